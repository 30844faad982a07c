"""Benchmark of what makes a measurement stale (a script): ``python benchmarks/bench_staleness.py``.

A synthetic repository of 50 modules, of which 10 import a shared package (not a module):
1. cold ``t4 coverage -n 2``: every module measured;
2. the shared package edited: exactly the 10 importers are measured again (target: 10 of 10, 0 others);
3. the cost of recording imports (the session-end plugin's walk of sys.modules) as a share of a
   module's run, timed in a pytest process that imported what a measured run imports, against the
   median run of the module in the ledger (target: <= 2 %);
4. a fresh ``git clone`` with the committed ledger: ``t4 coverage -n 2`` measures nothing (target: 0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from t4tasks.measure import session  # noqa: E402  (after the path above)

T4 = [sys.executable, "-m", "t4tasks.cli"]
LEDGER = Path("manifests/.ledger/coverage.ndjson")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "DOIT_CONFIG")}
    env["GIT_CEILING_DIRECTORIES"] = str(root.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=environment(root))


def build(root: Path, modules: int, importers: int) -> None:
    write(root / "shared/__init__.py", "")
    write(root / "shared/core.py", "def base(x):\n    return x + 1\n")
    for i in range(modules):
        name = f"m{i:02d}"
        write(root / name / "module.manifest.json",
              orjson.dumps({"schema_version": "1.0.0", "module": name, "matrix": {"lane": "L1"}}).decode())
        write(root / name / "__init__.py", "")
        write(root / name / "code.py", "def f(x):\n    if x > 0:\n        return x\n    return -x\n")
        uses = "from shared.core import base\n" if i < importers else "def base(x):\n    return x + 1\n"
        write(root / name / "tests" / "test_code.py",
              f"{uses}from {name}.code import f\n\n\ndef test_f():\n    assert base(f(-1)) == 2\n")
    write(root / "pyproject.toml", "[tool.t4]\ntimeout = 300\n")
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "bench@example.invalid"],
                 ["config", "user.name", "bench"], ["config", "commit.gpgsign", "false"]):
        git(root, *args)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")


def t4(root: Path, *args: str) -> tuple[float, list[str], str]:
    started = time.perf_counter()
    done = subprocess.run([*T4, "--root", str(root), *args], capture_output=True, text=True, env=environment(root))
    took = time.perf_counter() - started
    executed = sorted(line[3:].strip() for line in done.stdout.splitlines() if line.startswith(".  coverage:"))
    if done.returncode != 0:
        raise SystemExit(f"t4 {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return took, executed, done.stdout


def plugin_cost(root: Path, module: str, repeat: int) -> float:
    """Seconds one call of the session-end hook takes in a pytest process that ran ``module``'s tests
    under pytest-cov (so sys.modules holds what a measured run holds)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        session.install(folder, root)
        probe = (f"import sys, time, pytest\nsys.path.insert(0, {str(folder)!r})\nimport {session.PLUGIN} as p\n"
                 f"pytest.main(['-q', '-p', 'no:cacheprovider', '--cov={root / module}', '--cov-report=', "
                 f"'--import-mode=importlib', '--rootdir={root}', '{root / module / 'tests'}'])\n"
                 f"best = []\nfor _ in range({repeat}):\n    t = time.perf_counter()\n    p.pytest_unconfigure(None)\n"
                 f"    best.append(time.perf_counter() - t)\nbest.sort()\nprint(len(sys.modules), best[len(best) // 2])\n")
        done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True,
                              env=environment(root), check=True)
        count, seconds = done.stdout.split()[-2:]
        print(f"  (sys.modules held {count} modules at the session's end)")
        return float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=50)
    parser.add_argument("--importers", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=200)
    options = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows = []
    with tempfile.TemporaryDirectory(prefix="t4-bench-staleness-") as tmp:
        root = Path(tmp) / "repo"
        build(root, options.modules, options.importers)
        cold, executed, _ = t4(root, "coverage", "-n", "2")
        rows.append(("cold t4 coverage -n 2", len(executed), options.modules, cold))
        git(root, "add", "-A")
        git(root, "commit", "-qm", "measured")

        write(root / "shared/core.py", "def base(x):\n    return x + 1  # edited\n")
        took, executed, _ = t4(root, "coverage", "-n", "2")
        importers = [f"coverage:m{i:02d}" for i in range(options.importers)]
        rows.append(("shared package edited", len(executed), options.importers, took))
        exact = executed == importers
        git(root, "checkout", "-q", "--", ".")  # back to the committed ledger and code

        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True, env=environment(clone))
        before = (clone / LEDGER).read_bytes()
        took, executed, out = t4(clone, "coverage", "-n", "2")
        measured = len(executed) - out.count("up to date from the ledger")
        rows.append(("fresh clone, committed ledger", measured, 0, took))
        unchanged_ledger = (clone / LEDGER).read_bytes() == before

        runs = [e["duration_s"] for e in map(orjson.loads, before.splitlines()) if e["module"] == "m00"]
        cost = plugin_cost(root, "m00", options.repeat)
        share = cost / statistics.median(runs)

    print(f"\n{'step':<32} {'measured':>8} {'expected':>8} {'wall s':>8}")
    for step, count, expected, took in rows:
        print(f"{step:<32} {count:>8} {expected:>8} {took:>8.1f}")
    print(f"\nexactly the {options.importers} importers re-measured: {'PASS' if exact else 'MISS'}")
    print(f"fresh clone: 0 measurements, ledger untouched: {'PASS' if rows[2][1] == 0 and unchanged_ledger else 'MISS'}")
    print(f"recording imports: {cost * 1000:.3f} ms per run = {share:.3%} of a module's run "
          f"(median {statistics.median(runs):.2f} s) — target <= 2 %: {'PASS' if share <= 0.02 else 'MISS'}")


if __name__ == "__main__":
    main()
