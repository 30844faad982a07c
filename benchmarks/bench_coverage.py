"""Benchmark of ``t4 coverage`` (a script, not a test): ``python benchmarks/bench_coverage.py``.

1. Overhead: wall time of ``t4 coverage:<m>`` (doit load, discovery, the pytest-cov subprocess,
   recording in ledger + manifest) over a bare ``python -m pytest <tests> --cov=<pkg> --cov-branch``
   of the same module, median of N runs each (interleaved), for a small, a medium and a large
   module. Target: <= 10 % overhead.
2. Incremental: ``t4 coverage`` after a one-module change in a 30-module repository, against the
   full cold run of the same repository. Target: <= 1/10 of the cold run.

Every repository is built in a temporary folder with real packages, tests and git. Before each
timed T4 run, ``t4 forget coverage:<m>`` (untimed) makes doit measure again; the ledger append is
then deduplicated by input digest, which costs the same lock + tail read as a real append.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T4 = [sys.executable, "-m", "t4tasks.cli"]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "DOIT_CONFIG")}
    env["GIT_CEILING_DIRECTORIES"] = str(root.parent)
    return env


def git_init(root: Path) -> None:
    env = environment(root)
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "bench@example.invalid"],
                 ["config", "user.name", "bench"], ["config", "commit.gpgsign", "false"],
                 ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def module_files(name: str, functions: int, tests: int, work: int) -> dict[str, str]:
    """A package with ``functions`` branchy functions and ``tests`` tests; each test also spins
    ``work`` loop iterations (under the tracer) so the test run itself has a realistic cost."""
    code = ["def spin(n):\n    total = 0\n    for i in range(n):\n        if i % 3:\n"
            "            total += i\n        else:\n            total -= 1\n    return total\n\n\n"]
    for i in range(functions):
        code.append(f"def f{i}(x):\n    if x > {i}:\n        return x - {i}\n"
                    f"    elif x == {i}:\n        return 0\n    return {i} - x\n\n\n")
    body = [f"import pytest\n\nfrom {name}.core import *\n\n\n"]
    for t in range(tests):
        i = t % functions
        body.append(f"def test_{t}():\n    assert f{i}({i + 1 + t % 2}) >= 0\n    spin({work})\n\n\n")
    return {f"{name}/__init__.py": "", f"{name}/core.py": "".join(code),
            f"{name}/tests/test_core.py": "".join(body)}


def manifest(name: str) -> str:
    return json.dumps({"schema_version": "1.0.0", "module": name, "matrix": {"lane": "L1"}}, indent=2) + "\n"


def build(root: Path, modules: dict[str, tuple[int, int, int]]) -> Path:
    for name, (functions, tests, work) in modules.items():
        write(root / name / "module.manifest.json", manifest(name))
        for rel, text in module_files(name, functions, tests, work).items():
            write(root / rel, text)
    write(root / "README.md", "# bench monorepo\n")
    git_init(root)
    return root


def timed(argv: list[str], root: Path, env: dict[str, str] | None = None, check: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env or environment(root), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
    return elapsed


def overhead(base: Path, repeats: int) -> list[dict]:
    sizes = {"small": (3, 3, 0), "medium": (60, 300, 200), "large": (120, 600, 4000)}
    root = build(base / "overhead", {name: spec for name, spec in sizes.items()})
    scratch = base / "bare-coverage"
    scratch.mkdir()
    rows = []
    for name in sizes:
        bare_env = environment(root)
        bare_env["COVERAGE_FILE"] = str(scratch / f".coverage.{name}")
        bare_cmd = [sys.executable, "-m", "pytest", f"{name}/tests", f"--cov={name}", "--cov-branch",
                    "-q", "-p", "no:cacheprovider"]
        t4_cmd = [*T4, "--root", str(root), f"coverage:{name}"]
        # warm-up (imports, pyc files, first doit state)
        timed(bare_cmd, root, bare_env)
        timed(t4_cmd, root)
        bare, t4 = [], []
        for _ in range(repeats):
            bare.append(timed(bare_cmd, root, bare_env))
            timed([*T4, "--root", str(root), "forget", f"coverage:{name}"], root)
            t4.append(timed(t4_cmd, root))
        b, t = statistics.median(bare), statistics.median(t4)
        rows.append({"module": name, "bare_s": b, "t4_s": t, "overhead_s": t - b, "ratio": t / b})
    return rows


def incremental(base: Path, modules: int) -> dict:
    specs = {f"mod{i:02d}": (8, 8, 100) for i in range(modules)}
    root = build(base / "incremental", specs)
    cold = timed([*T4, "--root", str(root), "coverage"], root)
    noop = timed([*T4, "--root", str(root), "coverage"], root)
    with open(root / "mod07" / "core.py", "a", encoding="utf-8") as handle:
        handle.write("\n\ndef added(x):\n    return x\n")
    started = time.perf_counter()
    done = subprocess.run([*T4, "--root", str(root), "coverage"], cwd=root, env=environment(root),
                          capture_output=True, text=True)
    one = time.perf_counter() - started
    executed = [line[3:].strip() for line in done.stdout.splitlines() if line.startswith(".  ")]
    if done.returncode != 0 or executed != ["coverage:mod07"]:
        raise SystemExit(f"incremental run measured {executed} (exit {done.returncode})\n{done.stdout}{done.stderr}")
    return {"modules": modules, "cold_s": cold, "noop_s": noop, "one_change_s": one, "ratio": one / cold}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per variant (median)")
    parser.add_argument("--modules", type=int, default=30, help="modules in the incremental repo")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="t4-bench-coverage-"))
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        rows = overhead(base, args.repeats)
        print(f"\n1. overhead of `t4 coverage:<m>` over bare `pytest --cov --cov-branch` "
              f"(median of {args.repeats}; target <= 10 %)")
        print(f"{'module':<8} {'bare s':>8} {'t4 s':>8} {'extra s':>8} {'overhead':>9}  verdict")
        for row in rows:
            verdict = "ok" if row["ratio"] <= 1.10 else "over target"
            print(f"{row['module']:<8} {row['bare_s']:8.2f} {row['t4_s']:8.2f} {row['overhead_s']:8.2f} "
                  f"{(row['ratio'] - 1) * 100:8.1f}%  {verdict}")

        inc = incremental(base, args.modules)
        print(f"\n2. `t4 coverage` in a {inc['modules']}-module repo (target: one change <= 1/10 of cold)")
        print(f"cold run (all modules)   {inc['cold_s']:8.2f} s")
        print(f"no-change run            {inc['noop_s']:8.2f} s   ({inc['noop_s'] / inc['cold_s']:.3f} of cold)")
        print(f"one module changed       {inc['one_change_s']:8.2f} s   ({inc['ratio']:.3f} of cold) "
              f"{'ok' if inc['ratio'] <= 0.10 else 'over target'}")
        print(f"\nload at end {os.getloadavg()[0]:.2f}")
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
