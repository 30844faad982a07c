"""Benchmark measurement: run a module's pytest-benchmark suite and keep honest statistics."""
# Why this is more than reading pytest-benchmark's summary:
#
# * Percentiles come from the raw per-round timings of *each* benchmark, computed with numpy.
#   Pooling rounds of a fast and a slow benchmark would describe neither.
# * Timings stay in microseconds as full-precision floats, so a sub-microsecond benchmark is never
#   rounded to 0, and 0 is a value, never "missing".
# * pytest-benchmark's JSON embeds every round (very large on real suites). It is read once
#   into statistics plus a small fixed-size quantile *sketch* and deleted; nothing downstream keeps
#   rounds. The sketch is what later regression checks test against.
# * A failing, broken or hanging benchmark suite is a recorded status, never an exception, so one
#   bad module never blocks the others.

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from t4tasks.catalog.module import Module
from t4tasks.ledgers import records
from t4tasks.measure import children, host, launch, session
from t4tasks.measure.fingerprint import package_versions

# 21 evenly spaced quantiles (0, 5, ..., 100 %): enough shape for a rank test, small enough that
# a ledger line stays small per benchmark.
SKETCH_PERCENTILES = tuple(5.0 * i for i in range(21))

# pytest exit codes (pytest.ExitCode) that map onto a status of their own.
_EXIT_OK, _EXIT_TESTS_FAILED, _EXIT_INTERRUPTED, _EXIT_NO_TESTS = 0, 1, 2, 5

# Environment variables that would switch coverage tracing (or arbitrary options) back on inside
# the child: pytest-cov's and coverage's subprocess hooks, and PYTEST_ADDOPTS, which pytest reads
# regardless of the ini file.
_DROPPED_ENV_PREFIXES = ("COV_CORE_", "COVERAGE_PROCESS_")
_DROPPED_ENV_NAMES = ("PYTEST_ADDOPTS",)

# A pytest plugin written next to the temp ini and loaded with ``-p``: pytest-benchmark probes the
# CPU (py-cpuinfo, slow; see docs/PERFORMANCE.md) and git for every JSON it writes. T4 discards both and records
# its own environment fingerprint, so the probes are answered with nothing.
_HOOKS_MODULE = "t4_bench_hooks"
# tryfirst: "-p" plugins register before pytest-benchmark, so they would otherwise answer last.
_HOOKS_SOURCE = """\
import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_generate_machine_info(config):
    return {}


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_generate_commit_info(config):
    return {}
"""

# How much of pytest's output is kept for the one-line message (the summary is at the end).
_OUTPUT_TAIL_BYTES = 64 * 1024


def run(root: Path, module: Module, timeout: float, extra_args: Sequence[str] = ()) -> dict:
    """Run ``module``'s benchmarks in a subprocess and return a result dict."""
    # Never raises for the suite's own failures. Keys: ``status`` ("ok", "tests_failed", "no_benchmarks",
    # "timeout", "crashed"), ``message`` (one line, None when ok), ``benchmarks`` (per-benchmark statistics,
    # sorted by name), ``summary`` (the slowest benchmark by p95, only for an "ok" run: a partial run would
    # understate the module), ``duration_s`` and ``versions``.
    root = Path(root)
    started = time.monotonic()
    if not module.bench_paths:
        # Never run pytest without paths: it would collect the whole repository.
        return _result("no_benchmarks", f"{module.name}: no benchmark paths", [], started)

    # a benchmark may delete this folder: cleaning up what is left must not fail the measurement
    with tempfile.TemporaryDirectory(prefix="t4-bench-", ignore_cleanup_errors=True) as tmp:
        tmp_dir = Path(tmp)
        (tmp_dir / f"{_HOOKS_MODULE}.py").write_text(_HOOKS_SOURCE, encoding="utf-8")
        json_path = tmp_dir / "benchmark.json"
        log_path = tmp_dir / "pytest.log"
        # The host's pytest config file applies (pythonpath, markers, plugins), with its addopts
        # minus what breaks an isolated run ("--cov ...", "-n auto", "-x"); an unreadable one is
        # replaced by an empty ini. rootdir/confcutdir keep node ids and conftest discovery rooted
        # at the repository. ``extra_args`` (e.g. ``--benchmark-disable-gc``) come last.
        command = [
            *launch.pytest_command(root), *module.bench_paths,
            "--benchmark-only", f"--benchmark-json={json_path}", "--benchmark-save-data",
            "-p", "no:cacheprovider", "-p", "no:cov", *host.config_args(root, module.bench_paths, tmp_dir),
            f"--rootdir={root}", f"--confcutdir={root}", "-p", _HOOKS_MODULE, *session.install(tmp_dir, root), *extra_args,
        ]
        try:
            returncode = _run_with_timeout(command, root, timeout, log_path, tmp_dir)
        except OSError as exc:  # the scratch folder vanished before the run could start
            return _result("crashed", f"T4's scratch folder is gone: {exc}", [], started)
        output = _tail(log_path)
        imports = session.imported(tmp_dir)
        try:
            benchmarks, unreadable = _read_benchmarks(json_path), None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            benchmarks, unreadable = [], f"unreadable pytest-benchmark JSON: {error}"
    # Leaving the block deleted the JSON (every raw round) together with the temp folder.

    if returncode is not None and imports is None:
        # the session never reached its end (os._exit in a benchmark, a signal), whatever the exit
        # code
        return _result("crashed", f"pytest did not finish its session (exit code {returncode}): "
                                  f"{output.strip().splitlines()[-1] if output.strip() else 'no output'}", [], started)
    if unreadable and returncode == _EXIT_OK:
        return _result("crashed", unreadable, [], started)
    status, message = _classify(returncode, output, bool(benchmarks), timeout)
    return _result(status, message, benchmarks, started, imports or [])


def summarize(benchmarks: list[dict]) -> dict | None:
    """The module summary: the slowest benchmark by p95 (name breaks ties), in milliseconds."""
    if not benchmarks:
        return None
    worst = max(benchmarks, key=lambda b: (b["p95_us"], b["name"]))
    return {
        "benchmark": worst["name"],
        "p50_ms": worst["p50_us"] / 1000.0,
        "p95_ms": worst["p95_us"] / 1000.0,
        "p99_ms": worst["p99_us"] / 1000.0,
    }


def benchmark_stats(name: str, rounds_seconds: Sequence[float]) -> dict:
    """Statistics of one benchmark from its per-round timings (seconds per iteration)."""
    import numpy as np  # here, not at the top: `t4 list` must not pay numpy's import time

    data = np.asarray(rounds_seconds, dtype=np.float64) * 1e6
    if data.size == 0:
        raise ValueError(f"benchmark {name!r} has no rounds")
    p25, p50, p75, p95, p99 = np.percentile(data, [25, 50, 75, 95, 99])
    return {
        "name": name,
        "p50_us": float(p50),
        "p95_us": float(p95),
        "p99_us": float(p99),
        "mean_us": float(data.mean()),
        # Sample stddev, like pytest-benchmark; a single round has no spread.
        "stddev_us": float(data.std(ddof=1)) if data.size > 1 else 0.0,
        "iqr_us": float(p75 - p25),
        "min_us": float(data.min()),
        "max_us": float(data.max()),
        "rounds": int(data.size),
        "sketch": [float(q) for q in np.percentile(data, SKETCH_PERCENTILES)],
    }


def sla_targets(manifest: dict) -> dict[str, float]:
    """Latency targets from ``performance.sla`` or the older ``performance.sla_targets``."""
    performance = manifest.get("performance") if isinstance(manifest, dict) else None
    if not isinstance(performance, dict):
        return {}
    targets: dict[str, float] = {}
    for spelling in ("sla_targets", "sla"):  # both spellings: the current one wins key by key
        block = performance.get(spelling)
        if isinstance(block, dict):
            for key in ("latency_p95_ms", "latency_p99_ms"):
                if _is_number(block.get(key)):  # non-numeric values are ignored
                    targets[key] = float(block[key])
    return targets


def meets_sla(manifest: dict, summary: dict | None) -> bool | None:
    """True when every latency target is met, False when one is missed, None when nothing to judge."""
    # Met means observed <= target; nothing to judge means no targets, or no measurement.
    targets = sla_targets(manifest)
    if not targets or not summary:
        return None
    observed = {"latency_p95_ms": summary.get("p95_ms"), "latency_p99_ms": summary.get("p99_ms")}
    verdicts = [observed[key] <= target for key, target in targets.items()
                if _is_number(observed[key])]
    return all(verdicts) if verdicts else None


def compare(new: dict, old_results: list[dict], threshold: float, alpha: float = 0.05) -> list[dict]:
    """Regression rows for every benchmark of ``new`` against earlier results."""
    fingerprint = new.get("env_fingerprint")
    baselines: dict[str, dict] = {}
    # Only records with the same ``env_fingerprint`` as ``new`` (and, when they carry a status, an
    # "ok" one) are baselines; of those the latest in ``old_results`` order (ledger order) that has
    # the benchmark is used, so an accepted slowdown becomes the new normal instead of failing
    # forever. Callers pass earlier records only.
    for record in old_results:
        if fingerprint is None or record.get("env_fingerprint") != fingerprint:
            continue
        if not records.is_ok(record):
            continue
        for bench in record.get("benchmarks") or []:
            baselines[bench["name"]] = bench
    return [_compare_one(bench, baselines.get(bench["name"]), threshold, alpha)
            for bench in sorted(new.get("benchmarks") or [], key=lambda b: b["name"])]


def _compare_one(new: dict, base: dict | None, threshold: float, alpha: float) -> dict:
    """One comparison row; ``base`` None means "nothing comparable", which never regresses."""
    row = {
        "benchmark": new["name"],
        "baseline_p50_us": None, "new_p50_us": new["p50_us"],
        "baseline_p95_us": None, "new_p95_us": new["p95_us"],
        "ratio": None, "p_value": None, "regressed": False,
    }
    if base is None:
        row["explain"] = (f"{new['name']}: no earlier result with the same environment "
                          "fingerprint; not compared")
        return row
    row.update(baseline_p50_us=base["p50_us"], baseline_p95_us=base["p95_us"],
               ratio=_ratio(new["p95_us"], base["p95_us"]))
    limit = 1.0 + threshold
    # A benchmark regresses when its p50 is slower than the baseline's by more than ``threshold``
    # (0.10 = 10 %) AND the significance test below agrees. The ratio guards against flagging tiny,
    # statistically "significant" shifts; the test guards against flagging noise in one
    # percentile. The ratio is taken on the median, not the tail: on a shared machine p95 moves
    # with whatever else runs while p50 holds (see docs/PERFORMANCE.md).
    # Multiplying instead of dividing keeps a zero baseline meaningful.
    slower = new["p50_us"] > base["p50_us"] * limit
    change = (f"p95 {_format_us(base['p95_us'])} → {_format_us(new['p95_us'])} "
              f"({_format_ratio(row['ratio'])}), p50 {_format_ratio(_ratio(new['p50_us'], base['p50_us']))}")
    if not base.get("sketch") or not new.get("sketch"):
        row["explain"] = f"{new['name']}: {change}; no sketch on one side, significance not tested"
        return row

    # imported here: scipy.stats is slow to import (see docs/PERFORMANCE.md)
    from scipy.stats import mannwhitneyu

    # One-sided Mann-Whitney U on the two sketches, p < ``alpha``. The sketches are 21 quantiles,
    # not the raw rounds: the test sees 21 points per side, which makes it conservative compared
    # with testing thousands of rounds, which is what a gate should be (a large slowdown still
    # gives a tiny p; see docs/PERFORMANCE.md).
    p_value = float(mannwhitneyu(new["sketch"], base["sketch"], alternative="greater").pvalue)
    row["p_value"] = p_value
    row["regressed"] = slower and p_value < alpha
    if row["regressed"]:
        verdict = f"REGRESSED: slower than +{threshold:.0%} and significant (p={p_value:.2g} < {alpha})"
    elif slower:
        verdict = f"slower than +{threshold:.0%} but not significant (p={p_value:.2g} ≥ {alpha})"
    else:
        verdict = f"within +{threshold:.0%}"
    row["explain"] = f"{new['name']}: {change}; {verdict}"
    return row


def _run_with_timeout(command: list[str], cwd: Path, timeout: float, log_path: Path,
                      hooks_dir: Path) -> int | None:
    """Run ``command`` with output to ``log_path``; return its exit code, or None on timeout."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(_DROPPED_ENV_PREFIXES) and key not in _DROPPED_ENV_NAMES}
    # ``hooks_dir`` holds the hooks plugin
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hooks_dir), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "10000"  # no tty: pytest would cut summary lines (and their reasons) at 80
    # output to a file, not a pipe: a grandchild that keeps the pipe open cannot hang us
    with open(log_path, "wb") as log:
        # a process group of its own: a timeout (or our own interruption) kills everything it started,
        # not just the pytest process
        return children.run(command, cwd=cwd, env=env, timeout=timeout, stdout=log, stderr=subprocess.STDOUT)


def _tail(path: Path) -> str:
    """The last part of pytest's output, where its summary lines are."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - _OUTPUT_TAIL_BYTES))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:  # the scratch folder was deleted by the run
        return ""


def _read_benchmarks(json_path: Path) -> list[dict]:
    """Per-benchmark statistics from pytest-benchmark's JSON, sorted by name."""
    raw = json_path.read_bytes() if json_path.exists() else b""
    # pytest-benchmark creates the file when it starts, so a run that measured nothing (or was
    # killed) leaves it empty: that is "no benchmarks", not a broken file
    if not raw:
        return []
    report = orjson.loads(raw)
    # ``fullname`` (path::test[param]) is the name: plain test names collide across files
    benchmarks = [benchmark_stats(entry["fullname"], entry["stats"]["data"])
                  for entry in report.get("benchmarks", [])]
    return sorted(benchmarks, key=lambda b: b["name"])


def _classify(returncode: int | None, output: str, measured: bool, timeout: float) -> tuple[str, str | None]:
    """Status and one-line message from pytest's exit code and output."""
    if returncode is None:
        return "timeout", f"benchmarks did not finish within {timeout:g} s and were killed"
    problem = _first_problem_line(output)
    if returncode == _EXIT_OK:
        return ("ok", None) if measured else ("no_benchmarks", "no benchmark ran (none collected)")
    if returncode == _EXIT_NO_TESTS:
        return "no_benchmarks", "no benchmarks collected"
    if returncode == _EXIT_TESTS_FAILED or (
            returncode == _EXIT_INTERRUPTED and re.search(r"errors? during collection", output)):
        # A collection error (e.g. a syntax error in a bench file) is broken benchmark code too.
        return "tests_failed", problem or f"pytest exited with {returncode}"
    if returncode < 0:
        return "crashed", f"pytest was killed by signal {-returncode}"
    last_line = next((line for line in reversed(output.splitlines()) if line.strip()), "")
    return "crashed", f"pytest exited with {returncode}: {problem or last_line.strip()}"


def _first_problem_line(output: str) -> str | None:
    """The first FAILED/ERROR line of pytest's short summary, plus how many there were."""
    lines = output.splitlines()
    problems = [line.strip() for line in lines if line.startswith(("FAILED ", "ERROR "))]
    if not problems:
        return None
    first = problems[0]
    if " - " not in first:
        # a collection error's summary line names only the file: add the exception pytest printed
        reason = next((line[1:].strip() for line in reversed(lines)
                       if line.startswith("E ") and "Error" in line), None)
        first = f"{first} - {reason}" if reason else first
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return first + more


def _result(status: str, message: str | None, benchmarks: list[dict], started: float,
            imports: list[str] | None = None) -> dict:
    return {
        "imports": imports or [],
        "status": status,
        "message": message,
        "benchmarks": benchmarks,
        "summary": summarize(benchmarks) if status == "ok" else None,
        "duration_s": round(time.monotonic() - started, 3),
        "versions": {"python": platform.python_version(), **package_versions()},
    }


def _ratio(new: float, base: float) -> float | None:
    """new / base; None when the baseline is 0 (the ratio is undefined, not infinite in JSON)."""
    return new / base if base > 0 else None


def _format_ratio(ratio: float | None) -> str:
    return "×?" if ratio is None else f"×{ratio:.2f}"


def _format_us(us: float) -> str:
    """Human time: ns, µs, ms or s with three significant digits."""
    for unit, scale in (("s", 1e6), ("ms", 1e3), ("µs", 1.0)):
        if us >= scale:
            return f"{us / scale:.3g} {unit}"
    return f"{us * 1e3:.3g} ns"


def _is_number(value: object) -> bool:
    """A real, finite number (bools are ints in Python but not latency targets)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
