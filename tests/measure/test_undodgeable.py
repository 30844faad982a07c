"""Gates that cannot be dodged, runs that end in the truth: no tests, no benchmarks, os._exit,
leftover processes, a deleted scratch folder, a bad ``-n``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support import git_init, ledger_lines, make_repo, manifest, run_t4, t4_run

COVERAGE = Path("manifests/.ledger/coverage.ndjson")
BENCH = Path("manifests/.ledger/bench.ndjson")


def test_a_coverage_target_or_an_sla_without_tests_fails_unless_the_manifest_says_so(tmp_path):
    sla = {"sla": {"latency_p95_ms": 5}}
    root = git_init(make_repo(tmp_path / "repo", {
        "bare": manifest("bare", testing={"coverage_target": 80}, performance=sla),
        "declared": manifest("declared", testing={"coverage_target": 80, "no_tests": True},
                             performance={**sla, "no_benchmarks": True}),
    }, files={"bare/__init__.py": "", "declared/__init__.py": ""}))
    code, _, _, out = t4_run(root, "coverage_gate")
    assert code != 0 and "untested" in out and "coverage gate: 1 of 2 modules pass" in out, out
    code, _, _, out = t4_run(root, "bench_gate")
    assert code != 0 and "bare" in out and "no_benchmarks" in out and "1 of 2 modules pass" in out, out
    code, _, _, out = t4_run(root, "registry")
    registry = (root / "docs/_generated/MODULE_REGISTRY.json").read_text()
    assert '"no_tests": true' in registry and '"no_benchmarks": true' in registry


def test_deleting_a_modules_tests_does_not_turn_its_lane_gate_green(tmp_path):
    root = git_init(make_repo(tmp_path / "repo", {"m": manifest("m")}, files={
        "m/__init__.py": "", "m/code.py": "def f(x):\n    if x:\n        return 1\n    return 2\n",
        "m/tests/test_m.py": "from m.code import f\n\n\ndef test_f():\n    assert f(1) == 1\n",
    }, pyproject="[tool.t4]\ntimeout = 120\n\n[tool.coverage.run]\nbranch = true\n"))
    code, _, _, out = t4_run(root, "coverage")
    code, _, _, out = t4_run(root, "coverage_gate")
    assert code != 0 and "below_target" in out, out  # 3 of 4 lines and branches: under L1's 75 %
    shutil.rmtree(root / "m" / "tests")
    code, _, _, out = t4_run(root, "coverage")
    code, _, _, out = t4_run(root, "coverage_gate")
    assert code != 0 and "untested" in out, out


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_runs_that_do_not_reach_the_end_are_crashed_and_leave_nothing_running(tmp_path):
    pid_file = tmp_path / "leaked.pid"
    root = git_init(make_repo(tmp_path / "repo", {m: manifest(m) for m in ("exits", "leaks", "wipes", "state", "dies")}, files={
        "exits/__init__.py": "", "exits/tests/test_x.py": "import os\n\n\ndef test_x():\n    os._exit(0)\n",
        "exits/benchmarks/test_b.py": ("import os\n\n\ndef test_b(benchmark):\n    benchmark(lambda: None)\n"
                                       "    os._exit(0)\n"),
        "leaks/__init__.py": "",
        "leaks/tests/test_l.py": ("import subprocess, sys\n\n\ndef test_l():\n"
                                  "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
                                  f"    open({str(pid_file)!r}, 'w').write(str(child.pid))\n"),
        "wipes/__init__.py": "",
        "wipes/tests/test_w.py": ("import os, shutil\n\n\ndef test_w():\n"
                                  "    shutil.rmtree(os.path.dirname(os.environ['COVERAGE_FILE']))\n"),
        "state/__init__.py": "",
        "state/tests/test_s.py": "import shutil\n\n\ndef test_s():\n    shutil.rmtree('.t4')\n",
        "dies/__init__.py": "import os\nos._exit(0)\n",
    }, pyproject="[tool.t4]\ntimeout = 120\n"))
    code, _, _, out = t4_run(root, "coverage:exits", "coverage:leaks", "coverage:wipes", "coverage:state",
                             "bench:exits")
    assert "Traceback" not in out, out
    status = {e["module"]: e["status"] for e in ledger_lines(root / COVERAGE)}
    assert status == {"exits": "crashed", "leaks": "ok", "wipes": "crashed", "state": "ok"}, out
    assert [e["status"] for e in ledger_lines(root / BENCH)] == ["crashed"], out
    assert not alive(int(pid_file.read_text())), "a process the measured run started survived it"
    code, _, _, out = t4_run(root, "tests_fast:exits", "smoke:dies")
    assert code != 0 and "tests_fast:exits FAILED" in out and "smoke:dies FAILED" in out, out
    # a crashed run is never up to date
    _, executed, _, out = t4_run(root, "coverage:exits")
    assert executed == ["coverage:exits"], out


def test_a_parallelism_below_one_is_an_error(tmp_path):
    root = git_init(make_repo(tmp_path / "repo", {"a": manifest("a")}, files={"a/__init__.py": ""}))
    for args in (("-n", "-1"), ("-n", "0"), ("coverage", "-n", "0"), ("--process=-2",)):
        code, out, err = run_t4(root, *args)
        assert code == 2 and "at least 1" in err and "Traceback" not in out + err, (args, out, err)
    assert not (root / "manifests").exists()
    assert os.path.isdir(root)
