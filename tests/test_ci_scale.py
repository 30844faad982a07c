"""CI at scale, end to end (issue 7): real git repositories, real ``t4`` subprocesses.

* a fresh ``git clone`` plus a restored ``.t4/`` runs no task at all (content decides, not mtimes),
  also after every file has been touched;
* SIGTERM during ``t4 coverage -n 2`` is handled like Ctrl-C: the modules that finished before the
  signal are not measured again, and the ledger holds no duplicate;
* ``kill -9`` after the first finished module keeps that module's state (per-task commits);
* ``--changed-since REF`` creates per-module tasks for the changed modules only (all of them when
  a shared root file changed; both sides of a rename across modules);
* ``smoke`` and ``tests_fast`` report pass/fail per module.

Progress lines (``[k/N] coverage:<module> ...``) are printed by T4's reporter only after doit has
saved the task's success, so a module named in one has finished, with its state recorded.
"""

from __future__ import annotations

import collections
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import git, git_init, ledger_lines, make_repo, manifest, t4_run

LEDGER = Path("manifests/.ledger/coverage.ndjson")
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] coverage:(\S+) ")
VALIDATE_TASKS = ["docmap", "meta_registry", "registry", "summaries", "trends", "validate"]


# --------------------------------------------------------------------------------------------
# helpers


def build(root: Path, names: list[str], *, sleep: float | dict[str, float] = 0.0,
          extra: dict[str, str] | None = None) -> Path:
    """A committed repository with one package per name: code, a test (sleeping ``sleep`` s),
    a README (validate's docs check wants one) and a minimal manifest; a root conftest.py."""
    files = {"conftest.py": "", "README.md": "# monorepo\n"}
    for name in names:
        pause = sleep.get(name, 0.0) if isinstance(sleep, dict) else sleep
        files[f"{name}/__init__.py"] = ""
        files[f"{name}/core.py"] = "def inc(x):\n    return x + 1\n"
        files[f"{name}/README.md"] = f"# {name}\n"
        files[f"{name}/tests/test_core.py"] = (
            f"import time\n\nfrom {name}.core import inc\n\n\n"
            f"def test_inc():\n    time.sleep({pause})\n    assert inc(1) == 2\n")
    files.update(extra or {})
    make_repo(root, {name: manifest(name) for name in names}, files)
    return git_init(root)




def t4_env(root: Path) -> dict[str, str]:
    # a t4 killed with -9 cannot remove its scratch folders: keep them in the test's own folder
    scratch = root.resolve().parent / "scratch"
    scratch.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1", GIT_CEILING_DIRECTORIES=str(root.resolve().parent),
               TMPDIR=str(scratch))
    env.pop("DOIT_CONFIG", None)
    return env



def duplicates(entries: list[dict]) -> dict:
    counts = collections.Counter((e["module"], e["input_digest"]) for e in entries)
    return {key: n for key, n in counts.items() if n > 1}


def finished_modules(text: str) -> list[str]:
    return [m.group(3) for line in text.splitlines() if (m := PROGRESS.match(line))]


def measurement_pids(root: Path) -> list[int]:
    """pytest processes T4 started for ``root`` (they run in sessions of their own)."""
    marker = f"--rootdir={root}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in argv:
                pids.append(int(entry.name))
    return pids


def kill_measurements(root: Path) -> None:
    for pid in measurement_pids(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class LiveT4:
    """A running ``t4`` whose output is read line by line while it runs."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "t4tasks.cli", "--root", str(root), *args], cwd=root, env=t4_env(root),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern.pattern} within {timeout} s:\n{self.text}") from None
            if line is None:
                raise AssertionError(f"t4 ended before a line matching {pattern.pattern}:\n{self.text}")
            if match := pattern.match(line):
                return match

    def finish(self, timeout: float = 60) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"t4 did not end within {timeout} s of the signal:\n{self.text}") from None
        self._pump.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        kill_measurements(self.root)


@pytest.fixture
def live():
    started: list[LiveT4] = []

    def start(root: Path, *args: str) -> LiveT4:
        started.append(LiveT4(root, *args))
        return started[-1]

    yield start
    for proc in started:
        proc.kill()


# --------------------------------------------------------------------------------------------
# cache-aware CI: a fresh clone with a restored .t4/


MODULES4 = ["alpha", "beta", "delta", "gamma"]


def tracked_state(root: Path) -> dict[str, bytes]:
    """Content of every file outside .git and .t4 (what a CI run could change)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not {".git", ".t4"} & set(p.relative_to(root).parts)}


@pytest.mark.slow
def test_fresh_clone_with_restored_state_runs_no_task(tmp_path):
    origin = build(tmp_path / "origin", MODULES4)
    code, executed, _, out = t4_run(origin)  # measure, then validate, then dashboard and badges
    assert code == 0, out
    assert {f"coverage:{m}" for m in MODULES4} | {"validate"} <= set(executed), out
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "measured and validated")
    assert git(origin, "status", "--porcelain") == ""  # .t4/ ignores itself

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True, capture_output=True,
                   env=t4_env(clone))
    assert not (clone / ".t4").exists()
    shutil.copytree(origin / ".t4", clone / ".t4")
    # a clone writes every file anew: no mtime of the clone matches the one recorded in .t4/
    assert (clone / "alpha/core.py").stat().st_mtime_ns != (origin / "alpha/core.py").stat().st_mtime_ns
    before = tracked_state(clone)

    def everything_up_to_date(when: str) -> None:
        code, executed, uptodate, out = t4_run(clone, "validate")
        assert code == 0, f"{when}: {out}"
        assert executed == [], f"{when}: validate executed {executed}\n{out}"
        assert sorted(uptodate) == VALIDATE_TASKS, f"{when}: {out}"
        code, executed, uptodate, out = t4_run(clone, "coverage")
        assert code == 0, f"{when}: {out}"
        assert executed == [] and not finished_modules(out), f"{when}: coverage executed {executed}\n{out}"
        assert sorted(uptodate) == [f"coverage:{m}" for m in MODULES4], f"{when}: {out}"
        assert tracked_state(clone) == before, f"{when}: a file changed"

    everything_up_to_date("fresh clone")

    # every file touched (a later mtime, same content): still nothing runs
    stamp = time.time_ns() + 3_600 * 10**9
    for path in clone.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(clone).parts:
            os.utime(path, ns=(stamp, stamp))
    everything_up_to_date("after touching every file")
    assert git(clone, "status", "--porcelain") == ""


# --------------------------------------------------------------------------------------------
# SIGTERM and kill -9 during a measurement


MODULES6 = [f"m{i}" for i in range(6)]


@pytest.mark.slow
def test_sigterm_during_parallel_coverage_keeps_finished_modules(tmp_path, live):
    root = build(tmp_path / "repo", MODULES6, sleep=1.0)
    run = live(root, "coverage", "-n", "2")
    first = run.wait_for(PROGRESS)
    assert first.group(2) == "6", run.text
    run.proc.send_signal(signal.SIGTERM)  # the t4 process only, as a CI runner cancelling a step
    code = run.finish(timeout=60)
    out = run.text
    finished = finished_modules(out)
    kill_measurements(root)  # a measurement in flight may outlive t4 (see the next test)

    # handled like Ctrl-C: t4 was not killed by the signal, doit ended its run (and its report)
    assert code != -signal.SIGTERM, out
    assert code != 0, f"a cancelled run must not succeed:\n{out}"
    assert re.search(r"^measured \d+ module task\(s\)", out, re.M), out
    assert first.group(3) in finished and 0 < len(finished) < len(MODULES6), \
        f"the signal did not cut the run short:\n{out}"
    recorded = {e["module"] for e in ledger_lines(root / LEDGER)}
    assert set(finished) <= recorded, f"finished {finished}, recorded {sorted(recorded)}"

    code, executed, uptodate, again = t4_run(root, "coverage", "-n", "2")
    assert code == 0, again
    rerun = sorted(set(executed) & {f"coverage:{m}" for m in finished})
    assert rerun == [], f"finished before SIGTERM but measured again: {rerun}\nfirst run:\n{out}\nsecond:\n{again}"
    assert {f"coverage:{m}" for m in finished} <= set(uptodate)
    assert sorted(executed + uptodate) == [f"coverage:{m}" for m in MODULES6]

    entries = ledger_lines(root / LEDGER)
    assert duplicates(entries) == {}, entries
    assert sorted(e["module"] for e in entries) == MODULES6


@pytest.mark.slow
def test_sigterm_leaves_no_measurement_running(tmp_path, live):
    root = build(tmp_path / "repo", ["fast", "slow"], sleep={"fast": 0.0, "slow": 60.0})
    run = live(root, "coverage", "-n", "2")
    assert run.wait_for(PROGRESS).group(3) == "fast", run.text
    assert measurement_pids(root), "the slow module should be in flight"
    run.proc.send_signal(signal.SIGTERM)
    run.finish(timeout=60)
    time.sleep(0.5)
    left = measurement_pids(root)
    kill_measurements(root)
    assert left == [], f"pytest processes still running after t4 ended: {left}"


@pytest.mark.slow
def test_kill_9_after_the_first_module_keeps_its_state(tmp_path, live):
    names = MODULES6[:3]
    root = build(tmp_path / "repo", names, sleep=1.0)
    run = live(root, "coverage")
    first = run.wait_for(PROGRESS).group(3)
    os.kill(run.proc.pid, signal.SIGKILL)  # the t4 process only
    code = run.finish(timeout=30)
    assert code == -signal.SIGKILL, run.text
    assert not re.search(r"^measured \d+ module", run.text, re.M), "doit ended normally: not a hard kill"
    finished = finished_modules(run.text)
    assert finished and len(finished) < len(names), run.text
    kill_measurements(root)

    code, executed, uptodate, out = t4_run(root, "coverage")
    assert code == 0, out
    assert f"coverage:{first}" in uptodate and f"coverage:{first}" not in executed, \
        f"{first} finished before kill -9 but was measured again:\n{out}"
    assert sorted(executed + uptodate) == [f"coverage:{m}" for m in names]
    entries = ledger_lines(root / LEDGER)
    assert duplicates(entries) == {}, entries
    assert sorted(e["module"] for e in entries) == names


# --------------------------------------------------------------------------------------------
# --changed-since


def created(executed: list[str], uptodate: list[str]) -> list[str]:
    return sorted(executed + uptodate)


@pytest.mark.slow
def test_changed_since_creates_tasks_for_changed_modules_only(tmp_path):
    root = build(tmp_path / "repo", MODULES4, extra={"gamma/extra.py": "VALUE = 1\n"})

    # nothing changed: no coverage task at all
    code, executed, uptodate, out = t4_run(root, "--changed-since", "HEAD", "coverage")
    assert code == 0, out
    assert created(executed, uptodate) == [], out

    # one module's file edited (uncommitted): only that module's task is created, and it runs
    with open(root / "beta" / "core.py", "a") as handle:
        handle.write("\n\ndef dec(x):\n    return x - 1\n")
    code, executed, uptodate, out = t4_run(root, "--changed-since", "HEAD", "coverage")
    assert code == 0, out
    assert executed == ["coverage:beta"] and uptodate == [], out
    assert [e["module"] for e in ledger_lines(root / LEDGER)] == ["beta"]

    # the option may also follow the command (everything after --root goes to doit otherwise)
    code, executed, uptodate, out = t4_run(root, "coverage", "--changed-since=HEAD")
    assert code == 0, out
    assert created(executed, uptodate) == ["coverage:beta"], out

    # a shared root file (conftest.py) changed: every module is selected
    (root / "conftest.py").write_text("import os\n")
    code, executed, uptodate, out = t4_run(root, "--changed-since", "HEAD", "coverage")
    assert code == 0, out
    assert created(executed, uptodate) == [f"coverage:{m}" for m in MODULES4], out
    # root conftest.py is an input of every module's measurement: all rerun
    assert sorted(executed) == [f"coverage:{m}" for m in MODULES4], out

    # a rename across modules (committed): both the module it left and the one it joined
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "measured")
    git(root, "mv", "gamma/extra.py", "delta/extra.py")
    git(root, "commit", "-q", "-m", "move extra.py from gamma to delta")
    code, executed, uptodate, out = t4_run(root, "--changed-since", "HEAD~1", "coverage")
    assert code == 0, out
    assert created(executed, uptodate) == ["coverage:delta", "coverage:gamma"], out


# --------------------------------------------------------------------------------------------
# smoke and tests_fast


def quick_repo(root: Path) -> Path:
    files = {"conftest.py": ""}
    for name in ("good", "broken", "mixed", "failing"):
        files[f"{name}/__init__.py"] = ""
        files[f"{name}/core.py"] = "def one():\n    return 1\n"
    files["broken/__init__.py"] = "import t4_no_such_dependency  # an import-time crash\n"
    files["good/tests/test_good.py"] = (
        "import pytest\n\nfrom good.core import one\n\n\n"
        "@pytest.mark.smoke\ndef test_smoke():\n    assert one() == 1\n\n\n"
        "def test_unit():\n    assert one() == 1\n")
    files["broken/tests/test_broken.py"] = "def test_nothing_to_import():\n    assert True\n"
    files["mixed/tests/test_mixed.py"] = (
        "import pytest\n\nfrom mixed.core import one\n\n\n"
        "def test_unit():\n    assert one() == 1\n\n\n"
        "@pytest.mark.integration\ndef test_needs_the_world():\n    assert False, 'integration test ran'\n")
    files["failing/tests/test_failing.py"] = "def test_unit():\n    assert False, 'a real failure'\n"
    make_repo(root, {n: manifest(n) for n in ("good", "broken", "mixed", "failing")}, files)
    return git_init(root)


def verdicts(out: str, kind: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(rf"^{kind}:(\S+) (ok|FAILED):", out, re.M)}


def test_smoke_reports_the_module_whose_import_fails(tmp_path):
    root = quick_repo(tmp_path / "repo")
    code, executed, _, out = t4_run(root, "smoke")
    assert code != 0, out
    assert sorted(executed) == [f"smoke:{n}" for n in ("broken", "failing", "good", "mixed")], out
    assert verdicts(out, "smoke") == {"good": "ok", "mixed": "ok", "failing": "ok", "broken": "FAILED"}, out
    assert re.search(r"^smoke:broken FAILED: import broken failed", out, re.M), out
    assert "t4_no_such_dependency" in out
    assert re.search(r"^smoke:good ok: import good ok; smoke tests passed", out, re.M), out

    # --changed-since: only the changed module is smoked
    (root / "good" / "core.py").write_text("def one():\n    return 1  # edited\n")
    code, executed, uptodate, out = t4_run(root, "--changed-since", "HEAD", "smoke")
    assert code == 0, out
    assert created(executed, uptodate) == ["smoke:good"], out


@pytest.mark.slow
def test_tests_fast_excludes_integration_tests_per_module(tmp_path):
    root = quick_repo(tmp_path / "repo")
    code, executed, _, out = t4_run(root, "tests_fast")
    assert code != 0, out
    assert sorted(executed) == [f"tests_fast:{n}" for n in ("broken", "failing", "good", "mixed")], out
    found = verdicts(out, "tests_fast")
    # mixed: its failing test is marked integration and excluded; failing: an unmarked failure counts
    assert found["mixed"] == "ok" and found["failing"] == "FAILED" and found["good"] == "ok", out
    assert re.search(r"^tests_fast:mixed ok: 1 passed, 1 deselected", out, re.M), out
    assert "integration test ran" not in out
    assert "a real failure" in out
