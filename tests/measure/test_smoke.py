"""``smoke`` through the warm server (``t4tasks/measure/smoke_server.py``), end to end with real ``t4`` runs.

The server forks one child per module: each module must still get a process of its own (its
package imported for the first time, nothing left over from another module), a hanging test must
be killed at the timeout with nothing left running, a cancelled run must leave no child behind,
and without the server (``T4_SMOKE_NO_SERVER``) the verdicts must be the same.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import doit_tasks, git_init, make_repo, manifest, run_t4

MARKED = "import pytest\n\n\n@pytest.mark.smoke\n"


def verdicts(out: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^smoke:(\S+) (ok|FAILED): (.*)$", out, re.M)}


def details(out: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^smoke:(\S+) (?:ok|FAILED): (.*)$", out, re.M)}


def pids_running(marker: str) -> list[int]:
    """Processes whose command line or working folder mention ``marker`` (the repository's unique
    folder name: t4, the server and every smoke child work in it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if marker in cmdline or marker in cwd:
            found.append(int(entry.name))
    return found


def repo_with(root: Path, modules: dict[str, str], pyproject: str | None = None) -> Path:
    """One package per name, each with one test file holding the given source."""
    files = {"shared_state.py": "IMPORTS = []\n"}
    for name, test in modules.items():
        files[f"{name}/__init__.py"] = "import shared_state\nshared_state.IMPORTS.append(__name__)\n"
        files[f"{name}/tests/test_{name}.py"] = test
    make_repo(root, {name: manifest(name) for name in modules}, files, pyproject=pyproject)
    return git_init(root)


def test_every_module_gets_a_process_of_its_own(tmp_path):
    # each package appends its name to a list in a module they all import: in a process of its
    # own, a module's smoke test sees exactly its own name, and records its own pid
    test = ("import os\n\nimport shared_state\n\n" + MARKED +
            "def test_fresh():\n"
            "    with open(os.environ['PIDS'], 'a') as f:\n"
            "        f.write(f'{os.getpid()}\\n')\n"
            "    package = os.path.basename(os.path.dirname(os.path.dirname(__file__)))\n"
            "    assert shared_state.IMPORTS == [package], shared_state.IMPORTS\n")
    names = ["alpha", "beta", "gamma", "delta"]
    root = repo_with(tmp_path / "repo", {n: test for n in names})
    pids = tmp_path / "pids.txt"
    os.environ["PIDS"] = str(pids)
    try:
        code, out, err = run_t4(root, "smoke", "-n", "2")
    finally:
        del os.environ["PIDS"]
    assert code == 0, out + err
    assert verdicts(out) == {n: "ok" for n in names}, out
    assert all(d.endswith("smoke tests passed") for d in details(out).values()), out
    recorded = pids.read_text().split()
    assert len(recorded) == len(set(recorded)) == len(names), recorded


@pytest.mark.slow
def test_the_same_verdicts_without_the_server(tmp_path):
    modules = {
        "good": "from good import *\n\n" + MARKED + "def test_ok():\n    assert True\n",
        "failing": MARKED + "def test_bad():\n    assert False, 'smoke failure seen'\n",
        "plain": "def test_not_smoke():\n    assert False, 'must not run'\n",
    }
    root = repo_with(tmp_path / "repo", modules)
    outcomes = []
    for env in ({}, {"T4_SMOKE_NO_SERVER": "1"}):
        os.environ.update(env)
        try:
            subprocess.run(["rm", "-rf", str(root / ".t4")], check=True)
            code, out, err = run_t4(root, "smoke")
        finally:
            for key in env:
                del os.environ[key]
        outcomes.append((code, verdicts(out), details(out)))
        assert "smoke failure seen" in out and "must not run" not in out, out
    assert outcomes[0] == outcomes[1]
    code, found, said = outcomes[0]
    assert code != 0 and found == {"good": "ok", "failing": "FAILED", "plain": "ok"}, said
    assert said["plain"] == "import plain ok; no smoke tests", said


def test_a_hanging_smoke_test_is_killed_at_the_timeout(tmp_path):
    # "hangs" records its pid and sleeps; "later" runs after it (-n 1, in name order) and checks
    # that this process is gone: killed at the timeout, not merely abandoned
    pid_file = tmp_path / "hanging.pid"
    modules = {
        "hangs": MARKED + f"def test_hangs():\n    import os, time\n"
                          f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n    time.sleep(600)\n",
        "later": MARKED + f"def test_hanging_one_is_gone():\n    import os\n"
                          f"    pid = int(open({str(pid_file)!r}).read())\n"
                          f"    try:\n        os.kill(pid, 0)\n    except ProcessLookupError:\n        return\n"
                          f"    raise AssertionError(f'the timed-out test (pid {{pid}}) still runs')\n",
    }
    root = repo_with(tmp_path / "repo", modules, pyproject="[tool.t4]\ntimeout = 3\n")
    started = time.monotonic()
    code, out, err = run_t4(root, "smoke", "-n", "1", timeout=120)
    took = time.monotonic() - started
    assert code != 0, out + err
    assert verdicts(out) == {"hangs": "FAILED", "later": "ok"}, out
    assert "timed out after 3 s" in details(out)["hangs"], out
    assert took < 60, f"the timeout did not stop the test: {took:.1f} s"


def test_sigterm_leaves_no_smoke_child_running(tmp_path):
    marker = f"term{os.getpid()}x{time.monotonic_ns()}"
    names = ["one", "two", "three"]
    test = MARKED + "def test_hangs():\n    import time\n    time.sleep(600)\n"
    root = repo_with(tmp_path / marker, {n: test for n in names})
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(root.parent))
    proc = subprocess.Popen([sys.executable, "-m", "t4tasks.cli", "--root", str(root), "smoke", "-n", "2"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    # wait until the children run the hanging tests (their cwd is the repository)
    while time.monotonic() < deadline and len(pids_running(marker)) < 3:  # t4, the server, a child
        time.sleep(0.2)
    assert len(pids_running(marker)) >= 3, "the smoke run never started"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != -signal.SIGTERM, out
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and pids_running(marker):
        time.sleep(0.2)
    assert pids_running(marker) == [], "a smoke child outlived the cancelled run"


HOST_PYPROJECT = """\
[tool.pytest.ini_options]
pythonpath = ["pkg/src"]
addopts = "--strict-markers -x"
strict_markers = true  # pytest 9 reads the flag in addopts as this setting only when given on the command line
markers = ["slowish: the host's own mark", "smoke: the host runs T4's smoke tests too"]
"""
USES_HOST = ("import pytest\n\nfrom helper import VALUE  # importable only through the host's pythonpath\n\n\n"
             "@pytest.mark.smoke\n@pytest.mark.slowish\ndef test_value():\n    assert VALUE == 42\n")
TYPO_MARK = "import pytest\n\n\n@pytest.mark.smoke\n@pytest.mark.slowsh\ndef test_typo():\n    pass\n"


@pytest.mark.slow
def test_smoke_and_fast_tests_run_as_the_host_runs_them(tmp_path):
    # the host's pythonpath and markers apply, and its --strict-markers too: each module passes
    # under T4 exactly when the host's own ``pytest`` on its tests passes
    root = tmp_path / "repo"
    make_repo(root, {n: manifest(n) for n in ("uses_host", "typo")},
              {"pkg/src/helper.py": "VALUE = 42\n", "uses_host/__init__.py": "", "typo/__init__.py": "",
               "uses_host/tests/test_uses_host.py": USES_HOST, "typo/tests/test_typo.py": TYPO_MARK},
              pyproject=HOST_PYPROJECT)
    git_init(root)
    plain = {name: subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                   f"{name}/tests"], cwd=root, capture_output=True).returncode
             for name in ("uses_host", "typo")}
    assert plain["uses_host"] == 0 and plain["typo"] != 0  # the host's pytest: one passes, one fails
    for task in ("smoke", "tests_fast"):
        code, out, err = run_t4(root, task, timeout=180)
        found = {m.group(1): m.group(2) for m in re.finditer(rf"^{task}:(\S+) (ok|FAILED)", out, re.M)}
        assert found == {"uses_host": "ok", "typo": "FAILED"}, out + err
        assert "'slowsh' not found in `markers`" in out, out
        assert f"{task}:uses_host: left out for an isolated run: from the host's addopts in pyproject.toml: -x" in out
        assert code != 0
    # a passing verdict stays up to date until the host's pytest settings change
    assert doit_tasks(run_t4(root, "smoke")[1])[1] == ["smoke:uses_host"]
    (root / "pyproject.toml").write_text(HOST_PYPROJECT + 'filterwarnings = ["error"]\n', encoding="utf-8")
    assert "smoke:uses_host" in doit_tasks(run_t4(root, "smoke")[1])[0]
