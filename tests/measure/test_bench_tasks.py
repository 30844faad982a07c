"""``bench:<module>`` end to end: real repositories, real git, real pytest-benchmark, the real ``t4`` CLI.

Each test builds a small monorepo in ``tmp_path`` and runs ``t4 bench`` (and ``t4 trends`` /
``t4 bench_gate``) in a subprocess. Reference numbers never come from T4: the fast benchmark's
median comes from pytest-benchmark itself, run the plain way with ``--benchmark-json``.

``[tool.t4] pytest_args`` keeps every suite to ~20 short rounds, so one ``t4 bench`` of a module
takes about two seconds.
"""

from __future__ import annotations

import collections
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from t4tasks.measure import bench, fingerprint
from tests.support import MANIFEST, git_init, latest, ledger_lines, make_repo, manifest, t4_run, write

LEDGER = Path("manifests/.ledger/bench.ndjson")
BENCH_TREND = Path("trends/bench_trend.csv")
QUICK = ["--benchmark-max-time=0.05", "--benchmark-min-rounds=20"]
PYPROJECT = f"[tool.t4]\npytest_args = {json.dumps(QUICK)}\n"
NOT_COMPARED = "no earlier result with the same environment fingerprint; not compared"

# ~1 µs and ~5 ms per call
FAST_CODE = "def fast():\n    return sum(range(60))\n"
SLOW_CODE = "import time\n\n\ndef slow():\n    time.sleep(0.005)\n"


# --------------------------------------------------------------------------------------------
# helpers








def read_manifest(root: Path, folder: str) -> dict:
    return json.loads((root / folder / MANIFEST).read_text(encoding="utf-8"))


def short(name: str) -> str:
    """``path/test_x.py::test_fast`` → ``test_fast``."""
    return name.rsplit("::", 1)[-1]


def by_short_name(entry: dict) -> dict[str, dict]:
    return {short(b["name"]): b for b in entry["benchmarks"]}


def assert_ordered_percentiles(entry: dict) -> None:
    for b in entry["benchmarks"]:
        assert 0 < b["p50_us"] <= b["p95_us"] <= b["p99_us"], b["name"]
        assert b["min_us"] <= b["p50_us"] <= b["max_us"], b["name"]
        assert b["rounds"] >= 20, b["name"]
        assert "data" not in b, "raw rounds must never reach the ledger"
    summary = entry["summary"]
    assert 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"], summary


def bare_pytest_benchmark(root: Path, bench_path: str, out_json: Path) -> dict[str, dict]:
    """pytest-benchmark run the plain way on ``bench_path``: its own stats per test name."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", bench_path, "--benchmark-only", f"--benchmark-json={out_json}",
         *QUICK, "-p", "no:cacheprovider", "-q"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out_json.read_text())
    return {b["name"]: b["stats"] for b in report["benchmarks"]}


# --------------------------------------------------------------------------------------------
# one module, a fast and a slow benchmark


MIXED_BENCH = """\
from mixed.core import fast, slow


def test_fast(benchmark):
    benchmark(fast)


def test_slow(benchmark):
    benchmark(slow)
"""


@pytest.mark.timing  # the self-measurement traces both runs unevenly; CI runs it
def test_fast_and_slow_in_one_module_give_honest_numbers_and_the_manifest_block(tmp_path):
    root = make_repo(
        tmp_path / "repo",
        {"mixed": manifest("mixed", performance={"sla": {"latency_p95_ms": 50.0}})},
        files={"mixed/__init__.py": "", "mixed/core.py": FAST_CODE + "\n\n" + SLOW_CODE,
               "mixed/benchmarks/test_mixed.py": MIXED_BENCH},
        pyproject=PYPROJECT)
    git_init(root)

    code, executed, _, out = t4_run(root, "bench")
    assert code == 0, out
    assert executed == ["bench:mixed"], out
    entries = ledger_lines(root / LEDGER)
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["kind"] == "bench" and entry["module"] == "mixed" and entry["status"] == "ok", entry
    assert entry["message"] is None
    stats = by_short_name(entry)
    assert set(stats) == {"test_fast", "test_slow"}
    assert_ordered_percentiles(entry)

    # the fast one is not rounded to zero, and agrees with pytest-benchmark's own median
    reference = bare_pytest_benchmark(root, "mixed/benchmarks", tmp_path / "bare.json")
    fast, slow = stats["test_fast"], stats["test_slow"]
    bare_fast_us = reference["test_fast"]["median"] * 1e6
    assert fast["p50_us"] > 0
    assert fast["p50_us"] < 20, f"a ~1 µs benchmark measured {fast['p50_us']} µs"
    assert bare_fast_us / 2 <= fast["p50_us"] <= bare_fast_us * 2, (fast["p50_us"], bare_fast_us)
    assert slow["p50_us"] == pytest.approx(reference["test_slow"]["median"] * 1e6, rel=0.5)
    assert 5000 <= slow["p50_us"] < 50_000, slow

    # the summary is the slow benchmark's, in milliseconds, and names it
    summary = entry["summary"]
    assert short(summary["benchmark"]) == "test_slow"
    assert summary["benchmark"] == slow["name"]
    assert summary["p50_ms"] == pytest.approx(slow["p50_us"] / 1000)
    assert summary["p95_ms"] == pytest.approx(slow["p95_us"] / 1000)
    assert summary["p99_ms"] == pytest.approx(slow["p99_us"] / 1000)

    # the fingerprint is the one this machine and interpreter compute, facts kept next to it
    here = fingerprint.environment()
    assert entry["env_fingerprint"] == here["fingerprint"]
    assert entry["env"] == here["facts"]
    assert re.fullmatch(r"[0-9a-f]{64}", entry["env_fingerprint"])

    # the manifest's observed block is the ledger record's, exactly
    observed = read_manifest(root, "mixed")["performance"]["observed"]
    assert observed["latency_p50_ms"] == summary["p50_ms"]
    assert observed["latency_p95_ms"] == summary["p95_ms"]
    assert observed["latency_p99_ms"] == summary["p99_ms"]
    assert observed["observed_at"] == entry["ts"]
    assert observed["env_fingerprint"] == entry["env_fingerprint"]
    assert read_manifest(root, "mixed")["performance"]["sla"] == {"latency_p95_ms": 50.0}

    # the SLA is judged on the slow benchmark: met at 50 ms, missed at 1 ms
    code, _, _, out = t4_run(root, "bench_gate")
    assert code == 0, out
    assert re.search(r"^mixed\s+pass$", out, re.M), out
    data = read_manifest(root, "mixed")
    data["performance"]["sla"]["latency_p95_ms"] = 1.0
    write(root / "mixed" / MANIFEST, json.dumps(data, indent=2) + "\n")
    code, _, _, out = t4_run(root, "bench_gate")
    assert code != 0, out
    assert re.search(r"^mixed\s+missed_sla\b", out, re.M), out


# --------------------------------------------------------------------------------------------
# two modules: incremental reruns


def two_module_repo(root: Path) -> Path:
    make_repo(
        root,
        {"alpha": manifest("alpha"), "beta": manifest("beta"), "plain": manifest("plain")},
        files={
            "alpha/__init__.py": "", "alpha/core.py": FAST_CODE,
            "alpha/benchmarks/test_alpha.py": "from alpha.core import fast\n\n\n"
                                              "def test_fast(benchmark):\n    benchmark(fast)\n",
            "beta/__init__.py": "", "beta/core.py": SLOW_CODE,
            "beta/tests/benchmarks/test_beta.py": "from beta.core import slow\n\n\n"
                                                  "def test_slow(benchmark):\n    benchmark(slow)\n",
            "plain/__init__.py": "", "plain/core.py": "X = 1\n",  # no benchmarks: no bench task
        },
        pyproject=PYPROJECT)
    return git_init(root)


@pytest.mark.slow
def test_second_run_executes_nothing_and_a_change_reruns_only_its_module(tmp_path):
    root = two_module_repo(tmp_path / "repo")

    code, executed, _, out = t4_run(root, "bench")
    assert code == 0, out
    assert sorted(executed) == ["bench:alpha", "bench:beta"], out
    first = latest(ledger_lines(root / LEDGER))
    assert set(first) == {"alpha", "beta"}
    assert all(e["status"] == "ok" for e in first.values()), first
    # fast module and slow module, each its own summary
    assert 0 < first["alpha"]["summary"]["p50_ms"] < 0.02, first["alpha"]["summary"]
    assert 5 <= first["beta"]["summary"]["p50_ms"] < 50, first["beta"]["summary"]
    for entry in first.values():
        assert_ordered_percentiles(entry)
    ledger_before = (root / LEDGER).read_bytes()
    manifests_before = {m: (root / m / MANIFEST).read_bytes() for m in ("alpha", "beta")}

    code, executed, uptodate, out = t4_run(root, "bench")
    assert code == 0, out
    assert executed == [], out
    assert {"bench:alpha", "bench:beta"} <= set(uptodate), out
    assert "bench:plain" not in out
    assert (root / LEDGER).read_bytes() == ledger_before
    assert {m: (root / m / MANIFEST).read_bytes() for m in ("alpha", "beta")} == manifests_before
    assert not re.search(r"^\[\d+/\d+\]", out, re.M), out
    assert "measured 0 module task(s), 0 taken from the ledger (same key, not measured), 2 up to date" in out, out

    with open(root / "alpha" / "core.py", "a", encoding="utf-8") as handle:
        handle.write("\n\ndef unused():\n    return 2\n")
    code, executed, uptodate, out = t4_run(root, "bench")
    assert code == 0, out
    assert executed == ["bench:alpha"], out
    assert "bench:beta" in uptodate, out
    entries = ledger_lines(root / LEDGER)
    assert collections.Counter(e["module"] for e in entries) == {"alpha": 2, "beta": 1}
    assert entries[-1]["module"] == "alpha"
    assert entries[-1]["input_digest"] != first["alpha"]["input_digest"]
    assert (root / "beta" / MANIFEST).read_bytes() == manifests_before["beta"]
    assert read_manifest(root, "alpha")["performance"]["observed"]["observed_at"] == entries[-1]["ts"]


# --------------------------------------------------------------------------------------------
# writer and reader agree: the bench ledger as the trends step reads it


def test_trends_read_back_what_bench_wrote(tmp_path):
    root = two_module_repo(tmp_path / "repo")
    code, _, _, out = t4_run(root, "bench")
    assert code == 0, out
    code, executed, _, out = t4_run(root, "trends")
    assert code == 0, out
    assert executed == ["trends"], out
    assert "skipped" not in out and "left out" not in out, out

    with open(root / BENCH_TREND, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    entries = latest(ledger_lines(root / LEDGER))
    assert sorted(r["module"] for r in rows) == ["alpha", "beta"], rows
    for row in rows:
        entry = entries[row["module"]]
        for field in ("p50_ms", "p95_ms", "p99_ms"):
            # the CSV keeps 4 decimals; both sides rounded the same way must agree exactly
            assert row[field] == f"{entry['summary'][field]:.4f}", (row, entry["summary"])
        assert row["env_fingerprint"] == entry["env_fingerprint"]
        assert row["date"] == entry["ts"][:10]
        assert row["delta_p95"] == ""
    # the slow module's row is not the fast one's: each module its own numbers
    by_module = {r["module"]: r for r in rows}
    assert float(by_module["beta"]["p50_ms"]) >= 5.0
    assert float(by_module["alpha"]["p50_ms"]) < 0.02


# --------------------------------------------------------------------------------------------
# regression signal


def work_code(delay: float, note: str = "") -> str:
    return f"import time\n\nDELAY = {delay}\n{note}\n\ndef work():\n    time.sleep(DELAY)\n"


@pytest.mark.slow
def test_slowdown_is_flagged_a_rerun_is_not_and_other_fingerprints_are_not_compared(tmp_path):
    root = make_repo(
        tmp_path / "repo", {"svc": manifest("svc")},
        files={"svc/__init__.py": "", "svc/core.py": work_code(0.002),
               "svc/benchmarks/test_svc.py": "from svc.core import work\n\n\n"
                                             "def test_work(benchmark):\n    benchmark(work)\n"},
        pyproject=PYPROJECT)
    git_init(root)
    core = root / "svc" / "core.py"

    def bench_run() -> str:
        code, executed, _, out = t4_run(root, "bench")
        assert code == 0, out
        assert executed == ["bench:svc"], out
        assert ledger_lines(root / LEDGER)[-1]["status"] == "ok", out
        return out

    def gate() -> tuple[int, str]:
        code, _, _, out = t4_run(root, "bench_gate")
        return code, out

    # 1. baseline: nothing to compare with yet
    out = bench_run()
    assert NOT_COMPARED in out, out
    assert "REGRESSED" not in out
    assert gate()[0] == 0

    # 2. three times slower: flagged in the task output and by the gate
    core.write_text(work_code(0.006), encoding="utf-8")
    out = bench_run()
    assert re.search(r"test_work: p95 .* → .*REGRESSED", out), out
    code, gate_out = gate()
    assert code != 0, gate_out
    assert re.search(r"^svc\s+regressed\b.*test_work", gate_out, re.M), gate_out

    # 3. the original code again: faster than the last run, not flagged
    core.write_text(work_code(0.002), encoding="utf-8")
    out = bench_run()
    assert "test_work: p95" in out and "REGRESSED" not in out, out
    code, gate_out = gate()
    assert code == 0, gate_out

    # 4. the same code measured again (a comment changes the input digest, not the speed)
    core.write_text(work_code(0.002, "# same speed, new digest"), encoding="utf-8")
    out = bench_run()
    assert "test_work: p95" in out and "REGRESSED" not in out, out
    code, gate_out = gate()
    assert code == 0, gate_out

    # 5. every earlier result now comes from another machine: the same 3x slowdown that step 2
    #    flagged is not compared at all
    other_machine = "0" * 64
    lines = [orjson.loads(line) for line in (root / LEDGER).read_bytes().splitlines() if line.strip()]
    assert len(lines) == 4
    for line in lines:
        line["env_fingerprint"] = other_machine
    (root / LEDGER).write_bytes(b"".join(orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n"
                                         for line in lines))
    core.write_text(work_code(0.006, "# same speed, new digest"), encoding="utf-8")
    out = bench_run()
    assert NOT_COMPARED in out, out
    assert "REGRESSED" not in out
    code, gate_out = gate()
    assert code == 0, gate_out
    entries = ledger_lines(root / LEDGER)
    assert entries[-1]["env_fingerprint"] != other_machine
    # control: with a matching fingerprint the same records would have been a regression
    same = [{**e, "env_fingerprint": entries[-1]["env_fingerprint"]} for e in entries[:-1]]
    assert any(row["regressed"] for row in bench.compare(entries[-1], same, 0.10))


# --------------------------------------------------------------------------------------------
# broken, unparsable and hanging benchmarks next to a healthy module


BAD_FILES = {
    "healthy/benchmarks/test_healthy.py": "from healthy.core import f\n\n\n"
                                          "def test_f(benchmark):\n    benchmark(f)\n",
    "raising/benchmarks/test_raising.py": ("from raising.core import f\n\n\n"
                                           "def test_ok(benchmark):\n    benchmark(f)\n\n\n"
                                           "def test_boom(benchmark):\n"
                                           "    def boom():\n        raise RuntimeError('boom on purpose')\n"
                                           "    benchmark(boom)\n"),
    "syntax/benchmarks/test_syntax.py": "def test_s(benchmark)\n    benchmark(len, 'x')\n",
    "hanging/benchmarks/test_hanging.py": "import time\n\n\ndef test_hang(benchmark):\n"
                                          "    benchmark(time.sleep, 120)\n",
}
BAD_MODULES = ("healthy", "raising", "syntax", "hanging")


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    """One `t4 bench -n 2` over a healthy, a raising, an unparsable and a hanging module."""
    root = tmp_path_factory.mktemp("bad") / "repo"
    files = dict(BAD_FILES)
    for name in BAD_MODULES:
        files[f"{name}/__init__.py"] = ""
        files[f"{name}/core.py"] = "def f():\n    return 1\n"
    make_repo(root, {name: manifest(name) for name in BAD_MODULES}, files=files,
              pyproject=PYPROJECT + "timeout = 5\n")
    git_init(root)
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        # an ordinary 80-column terminal outside CI (pytest never trims its summary lines on CI)
        patch.setenv("COLUMNS", "80")
        for name in ("CI", "BUILD_NUMBER"):
            patch.delenv(name, raising=False)
        # -n 2: the hanging module sleeps in one slot while the others run in the other
        code, executed, _, out = t4_run(root, "bench", "-n", "2")
    return root, code, executed, out, time.monotonic() - started


def test_broken_syntax_error_and_hang_are_recorded_while_a_healthy_module_completes(bad_run):
    root, code, executed, out, elapsed = bad_run
    assert code == 0, out  # observations, not pipeline failures
    assert sorted(executed) == sorted(f"bench:{m}" for m in BAD_MODULES), out
    assert elapsed < 60, "the hanging benchmark was not cut off by the timeout"
    entries = latest(ledger_lines(root / LEDGER))
    assert {n: e["status"] for n, e in entries.items()} == {
        "healthy": "ok", "raising": "tests_failed", "syntax": "tests_failed", "hanging": "timeout"}

    healthy = entries["healthy"]
    assert healthy["message"] is None and healthy["summary"]["p50_ms"] > 0
    assert read_manifest(root, "healthy")["performance"]["observed"]["observed_at"] == healthy["ts"]

    raising = entries["raising"]
    assert raising["message"].startswith("FAILED raising/benchmarks/test_raising.py::test_boom")
    assert "RuntimeError" in raising["message"], raising["message"]
    assert raising["summary"] is None  # a partial run would understate the module
    assert [short(b["name"]) for b in raising["benchmarks"]] == ["test_ok"]

    syntax = entries["syntax"]
    assert "syntax/benchmarks/test_syntax.py" in syntax["message"], syntax["message"]
    assert syntax["summary"] is None and syntax["benchmarks"] == []

    hanging = entries["hanging"]
    assert "did not finish within 5 s" in hanging["message"], hanging["message"]
    assert hanging["summary"] is None and hanging["benchmarks"] == []
    assert hanging["duration_s"] < 30

    for name in ("raising", "syntax", "hanging"):
        assert "observed" not in (read_manifest(root, name).get("performance") or {}), name
        result = json.loads((root / ".t4" / "results" / "bench" / f"{name}.json").read_text())
        assert result["status"] == entries[name]["status"]

    code, _, _, gate_out = t4_run(root, "bench_gate")
    assert code != 0, gate_out
    assert re.search(r"^healthy\s+pass$", gate_out, re.M), gate_out
    for name in ("raising", "syntax", "hanging"):
        assert re.search(rf"^{name}\s+{entries[name]['status']}\b", gate_out, re.M), gate_out
    assert "bench gate: 1 of 4 modules pass" in gate_out


def test_syntax_error_message_says_what_is_wrong(bad_run):
    root = bad_run[0]
    message = latest(ledger_lines(root / LEDGER))["syntax"]["message"]
    assert "SyntaxError" in message, message


def test_failure_message_keeps_the_whole_exception_text(bad_run):
    root = bad_run[0]
    message = latest(ledger_lines(root / LEDGER))["raising"]["message"]
    assert "RuntimeError: boom on purpose" in message, message


def test_progress_lines_and_summary_table_match_the_ledger(bad_run):
    root, _, _, out, _ = bad_run
    entries = latest(ledger_lines(root / LEDGER))
    lines = re.findall(r"^\[(\d+)/(\d+)\] bench:(\S+) (\S+) ", out, re.M)
    assert sorted(m for _, _, m, _ in lines) == sorted(BAD_MODULES), out
    assert sorted(int(i) for i, _, _, _ in lines) == [1, 2, 3, 4], out
    assert {int(n) for _, n, _, _ in lines} == {4}, out
    for _, _, module, status in lines:
        assert status == entries[module]["status"], (module, out)

    assert "measured 4 module task(s), 0 taken from the ledger (same key, not measured), 0 up to date" in out, out
    table = {status: int(count)
             for status, count in re.findall(r"^bench\s+(\S+)\s+(\d+)\s*$", out, re.M)}
    assert table == collections.Counter(e["status"] for e in entries.values()), out
    assert sum(table.values()) == len(BAD_MODULES)
