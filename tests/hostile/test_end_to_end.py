"""A repository full of hostile input goes through the whole pipeline: nothing outside changes,
nothing the user did not write runs, the good module is measured, each bad input is named."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.hostile.corpus import good_repo, snapshot
from tests.hostile.test_parsers import BOMB
from tests.hostile.test_values import PAYLOAD_NAME, SANDBOX_ESCAPE
from tests.support import git_init, manifest, run_t4

BAD_MANIFESTS = {  # folder → what makes it bad
    "traversal": manifest("../../../../outside/victim"),
    "equals": manifest("a=b"),
    "long": manifest("x" * 251),
    "nul": manifest("nul\0name"),
    "newline": manifest("new\nline"),
    "deep": '{"module": "deep", "x": ' + "[" * 300 + "]" * 300 + "}",
}


def hostile_repo(parent):
    (parent / "secret.json").write_text(json.dumps(manifest("stolen")))
    root = good_repo(parent / "work" / "repo", {
        **BAD_MANIFESTS,
        "evil": manifest(PAYLOAD_NAME),
        "shout": manifest("shout", ownership={"team": "<script>alert(1)</script>"}),
    }, {
        "good/README.md": f"---\n{BOMB}---\n# good\n",
        "evil/__init__.py": "X = 1\n",
        "shout/__init__.py": "",
        "templates/module/CHANGELOG.md.j2": SANDBOX_ESCAPE,
    })
    (root / "linked").mkdir()
    os.symlink(parent / "secret.json", root / "linked" / "module.manifest.json")
    git_init(root)
    return root


@pytest.mark.slow
def test_a_hostile_repository_changes_nothing_outside_and_runs_nothing(tmp_path):
    root = hostile_repo(tmp_path)
    before = snapshot(tmp_path, skip=root)
    outputs = {}
    for argv in ([], ["scaffold_docs", "--apply"], ["scaffold_tests", "--apply"], ["validate"]):
        code, out, err = run_t4(root, *argv, timeout=600)
        outputs[" ".join(argv) or "t4"] = out + err
        assert "Traceback" not in out + err, (argv, out + err)
    assert "coverage:good ok 100.00%" in outputs["t4"]
    assert "evil" in outputs["scaffold_tests --apply"]

    # the scaffolded tests run under pytest, and the name's Python stays text
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "evil/tests", "good/tests"],
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    code, out, err = run_t4(root, "clean", timeout=300)
    assert "Traceback" not in out + err

    assert snapshot(tmp_path, skip=root) == before  # nothing outside created, changed or deleted
    assert not any(p.name == "PWNED" for p in tmp_path.rglob("*"))
    assert (tmp_path / "secret.json").read_text() == json.dumps(manifest("stolen"))

    # every bad input is one named problem
    code, out, err = run_t4(root, "check_manifests")
    said = out + err
    for folder in [*BAD_MANIFESTS, "linked"]:
        assert len([line for line in said.splitlines() if line.strip().startswith(f"{folder}/module.manifest.json")]) == 1, (folder, said)
    assert "good/README.md" in outputs["validate"] and "aliases" in outputs["validate"]
    assert "CHANGELOG.md.j2" in outputs["scaffold_docs --apply"] and "unsafe" in outputs["scaffold_docs --apply"]
