"""``.pre-commit-hooks.yaml``: T4's hooks run by pre-commit itself (``pre-commit try-repo``) in a
fresh repository. pre-commit installs T4 into its own virtualenv the first time (a minute)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.support import REPO, git_init, make_repo, manifest, write

pytestmark = pytest.mark.slow


def test_every_hook_runs_t4_and_never_measures():
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"t4-check-manifests", "t4-docs-check", "t4-validate"}
    for hook in hooks:
        assert hook["entry"].split()[0] == "t4" and hook["language"] == "python"
        assert not {"coverage", "bench", "smoke", "tests_fast"} & set(hook["entry"].split()[1:])


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    if shutil.which("pre-commit") is None and subprocess.run(
            [sys.executable, "-m", "pre_commit", "--version"], capture_output=True).returncode != 0:
        pytest.skip("pre-commit is not installed (pip install -e '.[test]')")
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(root, home, hook):
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "GIT_CEILING_DIRECTORIES": str(root.parent)}
    done = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), hook, "--all-files"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=900)
    return done.returncode, done.stdout + done.stderr


def test_check_manifests_fails_on_a_broken_manifest_and_passes_once_fixed(tmp_path, home):
    root = make_repo(tmp_path / "repo", {"alpha": manifest("alpha"), "beta": '{"module": "beta",'})
    git_init(root)
    code, out = try_repo(root, home, "t4-check-manifests")
    assert code == 1 and "beta/module.manifest.json" in out, out
    write(root / "beta/module.manifest.json", '{"schema_version": "1.0.0", "module": "beta", "matrix": {"lane": "L1"}}')
    code, out = try_repo(root, home, "t4-check-manifests")
    assert code == 0 and "Passed" in out, out


def test_validate_never_measures(tmp_path, home):
    root = make_repo(tmp_path / "repo", {"alpha": manifest("alpha")},
                     {"alpha/__init__.py": "", "alpha/tests/test_a.py": "def test_a():\n    assert True\n"})
    git_init(root)
    code, out = try_repo(root, home, "t4-validate")
    assert "t4 validate" in out, out
    assert not (root / "manifests/.ledger/coverage.ndjson").exists()
    assert not (root / ".t4/results/coverage").exists()
