"""Size of the per-line data one coverage measurement keeps (``measure/lines.py``), on a module
of 1,000 lines, next to what else could be kept: coverage.py's JSON report and its data file.

usage: python benchmarks/bench_lines.py [--keep]

Three 1,000-line modules (100 functions of 10 lines): every function called, every other one,
and one whose tests take alternate branches line by line (the worst case for ranges). Each is
measured with the real ``t4 coverage``; the table shows the lines file, the ledger record, the
lines file gzipped, coverage.py's numbits of the same lines, and coverage.py's JSON report.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]


def module_source(alternating: bool) -> str:
    out = []
    for i in range(100):
        if alternating:   # every other line missed: covered and missed lines interleave
            out += [f"def f{i}(x):", "    y = 0", "    if x > 5:", "        y += 1", "    if x > 5:",
                    "        y += 2", "    if x > 5:", "        y += 3", "    return y", ""]
        else:
            out += [f"def f{i}(x):", "    y = x", "    if y > 0:", "        y += 1", "    else:",
                    "        y -= 1", "    for _ in range(2):", "        y *= 2", "    return y", ""]
    return "\n".join(out) + "\n"


def tests_source(called: range) -> str:
    calls = "\n".join(f"    big.core.f{i}(3)" for i in called)
    return f"import big.core\n\n\ndef test_calls():\n{calls}\n"


def measure(base: Path, name: str, alternating: bool, called: range) -> dict:
    root = base / name
    (root / "big/tests").mkdir(parents=True)
    (root / "big/__init__.py").write_text("")
    (root / "big/core.py").write_text(module_source(alternating))
    (root / "big/tests/test_core.py").write_text(tests_source(called))
    (root / "big/module.manifest.json").write_text(
        '{"schema_version": "1.0.0", "module": "big", "matrix": {"lane": "L1"}}')
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(base), "PYTHONPATH": str(ROOT)}
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.email=b@example.invalid", "-c", "user.name=bench", "commit", "-qm", "i"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    done = subprocess.run([sys.executable, "-m", "t4tasks.cli", "coverage"], cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    ledger = root / "manifests/.ledger/coverage.ndjson"
    record_line = ledger.read_bytes().splitlines()[-1]
    record = orjson.loads(record_line)
    lines_file = root / "manifests/.ledger/lines" / f"{record['lines_digest']}.json"
    data = lines_file.read_bytes()
    files = orjson.loads(data)["files"]
    numbits = numbits_size(files)
    report = json_report_size(root, env)
    return {"name": name, "statements": record["statements"], "coverage": record["coverage"],
            "lines": len(data), "gzip": len(gzip.compress(data, 9)), "record": len(record_line),
            "numbits": numbits, "report": report}


def numbits_size(files: dict) -> int:
    """coverage.py's numbits (base64) of the same statement and missing sets, for comparison."""
    from coverage.numbits import nums_to_numbits
    from t4tasks.measure.lines import numbers
    return sum(len(base64.b64encode(nums_to_numbits(numbers(f[k])))) for f in files.values()
               for k in ("statements", "missing"))


def json_report_size(root: Path, env: dict) -> int:
    """Bytes of coverage.py's own JSON report of the same module (what keeping it would cost)."""
    scratch = root / ".t4/bench-json"
    scratch.mkdir(parents=True, exist_ok=True)
    env = {**env, "COVERAGE_FILE": str(scratch / ".coverage")}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov=big", "--cov-branch",
                    f"--cov-report=json:{scratch / 'report.json'}", "big/tests"], cwd=root, env=env,
                   capture_output=True, check=False)
    return (scratch / "report.json").stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="t4-bench-lines-"))
    try:
        rows = [measure(base, "all called", False, range(100)),
                measure(base, "half called", False, range(0, 100, 2)),
                measure(base, "alternating", True, range(100))]
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print("per-line data of one measurement of a 1,000-line module (bytes)")
    print(f"{'module':<12} {'stmts':>5} {'cov %':>6} {'lines file':>10} {'gzip':>6} {'record':>7} "
          f"{'numbits':>8} {'cov json':>9} {'file/json':>9}")
    for r in rows:
        print(f"{r['name']:<12} {r['statements']:>5} {r['coverage']:>6.2f} {r['lines']:>10} {r['gzip']:>6} "
              f"{r['record']:>7} {r['numbits']:>8} {r['report']:>9} {r['lines'] / r['report']:>9.3f}")


if __name__ == "__main__":
    main()
