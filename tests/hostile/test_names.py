"""Hostile module names: each is one problem, the module gets nothing, every other module runs."""

from __future__ import annotations

import pytest

from t4tasks.catalog.project import Project

from tests.hostile.corpus import good_repo
from tests.support import git_init, manifest, read_registry, run_t4


@pytest.mark.parametrize("bad, why", [
    ("../../../../outside/victim", "path separator"),
    ("a=b", "'='"),
    ("x" * 251, "bytes long"),
    ("nul\0name", "U+0000"),
    ("new\nline", "U+000A"),
    ("bell\x07", "U+0007"),
    ("..", "'..'"),
    ("back\\slash", "path separator"),
    ("c:drive", "':'"),
    (" padded", "white space"),
    ("rtl\u202eoverride", "U+202E"),
])
def test_a_bad_name_is_one_problem_and_gets_no_module(no_outer_git, bad, why):
    root = good_repo(no_outer_git / "repo", {"bad": manifest(bad)})
    project = Project.load(root)
    assert [m.name for m in project.modules] == ["good"]
    [problem] = [p for p in project.problems if p.path == "bad/module.manifest.json"]
    assert why in problem.message and "\n" not in str(problem) and "\0" not in str(problem)


def test_the_name_bound_is_bytes_not_characters():
    from t4tasks.catalog import names  # new with the rule

    assert names.problem("é" * 64) is None          # 128 bytes
    assert "bytes long" in names.problem("é" * 65)  # 130 bytes
    assert names.problem("lukhas-ai-intro") is None  # real names with hyphens stay usable


@pytest.mark.slow
def test_a_traversal_name_writes_nothing_outside_and_gets_no_tasks(tmp_path):
    root = good_repo(tmp_path / "work" / "repo", {"bad": manifest("../../../../outside/victim")},
                     {"bad/__init__.py": "", "bad/tests/test_bad.py": "def test_x():\n    pass\n"})
    git_init(root)
    code, out, err = run_t4(root, "coverage")
    assert "coverage:good" in out and "victim" not in out
    assert not (tmp_path / "outside").exists() and not (tmp_path / "work" / "outside").exists()
    code, out, err = run_t4(root, "list", "--all")
    assert code == 0, err
    assert "coverage:good" in out and "victim" not in out
    code, out, err = run_t4(root, "check_manifests")
    assert code != 0 and "bad/module.manifest.json: /module: module name" in out + err


@pytest.mark.parametrize("bad", ["a=b", "x" * 251, "nul\0name"])
def test_a_bad_name_does_not_stop_list_or_the_registry(tmp_path, bad):
    root = good_repo(tmp_path / "repo", {"bad": manifest(bad)})
    git_init(root)
    code, out, err = run_t4(root, "list")
    assert code == 0, err
    code, out, err = run_t4(root, "registry")
    assert code == 0, err
    assert [m["name"] for m in read_registry(root)["modules"]] == ["good"]
    assert "Traceback" not in out + err


def test_the_measured_manifest_keeps_its_name_against_a_newcomer(no_outer_git):
    measured = manifest("core", testing={"coverage_observed": 90.0, "observed_at": "2026-01-01T00:00:00Z",
                                         "observed_digest": "d"})
    root = good_repo(no_outer_git / "repo", {"z/core": measured, "a/core": manifest("core")})
    project = Project.load(root)
    assert project.by_name["core"].manifest_path == "z/core/module.manifest.json"
    [problem] = [p for p in project.problems if "duplicate" in p.message]
    assert problem.path == "a/core/module.manifest.json"


def test_without_history_the_first_by_path_keeps_the_name(no_outer_git):
    root = good_repo(no_outer_git / "repo", {"z/core": manifest("core"), "a/core": manifest("core")})
    assert Project.load(root).by_name["core"].manifest_path == "a/core/module.manifest.json"
