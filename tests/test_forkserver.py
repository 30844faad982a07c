"""The tests' ``t4`` runs forked from one process: the same results as a fresh interpreter, measured alike."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import coverage
import pytest

from t4tasks.measure import children

from tests import support
from tests.support import make_repo, manifest, run_t4


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo", {"alpha": manifest("alpha")}, files={"alpha/README.md": "# a\n"})


def fresh(root, *args: str) -> tuple[int, str, str]:
    """The installed ``t4`` command, in a fresh interpreter."""
    proc = subprocess.run([Path(sys.executable).with_name("t4"), "--root", str(root), *args], cwd=root,
                          capture_output=True, text=True, timeout=120, env=support._env(root))
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("args", [("list",), ("-n", "0"), ("registry",), ("nosuchtask",)])
def test_a_forked_run_says_and_exits_as_a_fresh_interpreter_does(repo, args):
    forked = run_t4(repo, *args)
    assert support._fork_server(support._env(repo)) is not None, "the run was not forked"
    # the registry is built once; its second run is up to date in both
    assert forked[0] == fresh(repo, *args)[0]
    if args != ("registry",):
        assert forked == fresh(repo, *args)


def test_a_run_past_its_timeout_is_killed_and_the_next_run_works(tmp_path):
    root = make_repo(tmp_path / "repo", {"slow": manifest("slow")},
                     files={"slow/__init__.py": "", "slow/tests/test_slow.py": "import time\n\ndef test_sleeps():\n    time.sleep(600)\n"})
    with pytest.raises(subprocess.TimeoutExpired):
        run_t4(root, "coverage", timeout=1)
    assert run_t4(root, "list")[0] == 0


def test_a_measured_run_measures_the_exit_handlers_too(repo, tmp_path, monkeypatch):
    # a fresh measured interpreter starts coverage first, so T4's exit handlers run measured
    rc = tmp_path / "coveragerc"
    rc.write_text(f"[run]\nbranch = true\nparallel = true\ndata_file = {tmp_path / 'data' / 'cov'}\n")
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("COVERAGE_PROCESS_START", str(rc))
    # when these tests are measured themselves: not into that measurement
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
    monkeypatch.delenv("COVERAGE_FILE", raising=False)
    assert run_t4(repo, "list")[0] == 0
    lines, first = inspect.getsourcelines(children.kill_all)
    body = first + next(i for i, line in enumerate(lines) if line.strip().startswith("with "))
    measured = set()
    for path in (tmp_path / "data").glob("cov.*"):
        data = coverage.CoverageData(basename=str(path))
        data.read()
        measured |= set(data.lines(children.__file__) or ())
    assert body in measured
