"""Bounded parsers: deep JSON, YAML aliases and non-finite numbers are problems, not crashes."""

from __future__ import annotations

import time

import pytest

from tests.hostile.corpus import good_repo
from tests.support import git_init, read_registry, run_t4

BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n")


def test_a_deeply_nested_manifest_is_one_problem(tmp_path):
    deep = '{"schema_version": "1.0.0", "module": "deep", "x": ' + "[" * 300 + "]" * 300 + "}"
    root = good_repo(tmp_path / "repo", {"deep": deep})
    git_init(root)
    code, out, err = run_t4(root, "registry")
    assert code == 0, out + err
    assert [m["name"] for m in read_registry(root)["modules"]] == ["good"]
    code, out, err = run_t4(root, "check_manifests")
    assert "deep/module.manifest.json: JSON nested deeper than 64 levels" in out + err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("front_matter, said", [
    ("loop: &a [*a]", "aliases"),
    (BOMB, "aliases"),
    ("x: " + "[" * 5000 + "]" * 5000, "nested too deep"),
    ("x: '" + "y" * 70_000 + "'", "characters long"),
], ids=["self-reference", "alias-bomb", "deep-nesting", "oversized"])
def test_hostile_front_matter_is_one_problem_quickly(tmp_path, front_matter, said):
    root = good_repo(tmp_path / "repo", files={"good/README.md": f"---\n{front_matter}\n---\n# good\n"})
    git_init(root)
    started = time.monotonic()
    code, out, err = run_t4(root, "docs_check")
    assert time.monotonic() - started < 60
    assert code != 0 and "Traceback" not in out + err
    assert [line for line in (out + err).splitlines() if "good/README.md" in line and said in line]


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_timeout_is_a_config_error(tmp_path, value):
    root = good_repo(tmp_path / "repo", pyproject=f"[tool.t4]\ntimeout = {value}\n")
    git_init(root)
    code, out, err = run_t4(root, "list")
    assert code == 2 and "tool.t4.timeout: expected a finite positive number" in err
    assert "Traceback" not in out + err
