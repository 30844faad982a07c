#!/usr/bin/env python
"""Benchmark ``t4 smoke`` (issue 7: under 30 s for 140 modules on a 2-core machine). A script::

    python benchmarks/bench_smoke.py [--modules 140] [--smoke-share 1.0] [--jobs 2] [--keep]

It builds a synthetic git repository (the builder of ``synthetic_repo.py``: a package, a test file
and a manifest per module) where a share of the modules' test files also hold a test marked
``smoke``, then times, each in a fresh process:

* ``import floor``  ``python -c "import <package>"`` per module, ``--jobs`` at a time: the least
                    any smoke run can cost (one interpreter per module);
* ``bare pytest``   ``python -m pytest <tests> -m smoke`` per module, ``--jobs`` at a time: what
                    a team would script by hand (the baseline the ratio is taken to);
* ``t4 smoke``      ``t4 smoke -n <jobs>`` with no state (every module runs);
* ``t4 smoke no-op``  the same again: nothing changed, so doit runs nothing.

It prints a table with each row's ratio to the bare-pytest baseline, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_registry as reg  # noqa: E402  (the t4 command of this interpreter)
import synthetic_repo  # noqa: E402  (the synthetic repository builder)

TARGET_S = 30.0

SMOKE_TEST = '''

import pytest


@pytest.mark.smoke
def test_{name}_smoke():
    assert {cls}(1).run([3]) == [3]
'''


def build(repo: Path, modules: int, share: float) -> list[tuple[str, str]]:
    """The repository, and (import name, tests folder) per module."""
    synthetic_repo.build_synthetic(repo, modules)
    found = []
    manifests = sorted(repo.rglob("module.manifest.json"))
    for i, manifest in enumerate(manifests):
        folder = manifest.parent.relative_to(repo).as_posix()
        tests = manifest.parent / "tests"
        test_file = next(tests.glob("test_*.py"))
        if i < round(share * len(manifests)):
            short = folder.rsplit("/", 1)[-1]
            cls = synthetic_repo.camel(short)
            test_file.write_text(test_file.read_text() + SMOKE_TEST.format(name=short, cls=cls))
        found.append((folder.replace("/", "."), f"{folder}/tests"))
    (repo / "pytest.ini").write_text("[pytest]\nmarkers =\n    smoke: fast checks\n")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    "commit", "-qm", "smoke tests"], check=True)
    return found


def parallel(commands: list[list[str]], cwd: Path, jobs: int) -> float:
    def run(command: list[str]) -> int:
        return subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode

    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        codes = list(pool.map(run, commands))
    took = time.perf_counter() - t0
    failed = [c for c in codes if c not in (0, 5)]
    if failed:
        print(f"warning: {len(failed)} of {len(codes)} commands failed", file=sys.stderr)
    return took


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    return took, done.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", type=int, default=140)
    ap.add_argument("--smoke-share", type=float, default=1.0, help="share of modules with a smoke test")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the repository")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="t4-bench-smoke-"))
    repo = work / "repo"
    try:
        modules = build(repo, args.modules, args.smoke_share)
        py = sys.executable
        rows = []
        rows.append(("import floor", parallel([[py, "-c", f"import {name}"] for name, _ in modules], repo, args.jobs)))
        baseline = parallel([[py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "smoke", tests]
                             for _, tests in modules], repo, args.jobs)
        rows.append(("bare pytest", baseline))
        t4 = reg.default_t4()
        took, out = timed([*t4, "smoke", "-n", str(args.jobs)], repo)
        ran = sum(line.startswith("smoke:") and " ok: " in line for line in out.splitlines())
        rows.append((f"t4 smoke ({ran} ok)", took))
        rows.append(("t4 smoke no-op", timed([*t4, "smoke", "-n", str(args.jobs)], repo)[0]))
        print(f"\n{args.modules} modules, {args.smoke_share:.0%} with a smoke test, {args.jobs} jobs, "
              f"{os.cpu_count()} CPUs, load avg {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
        print(f"{'run':<24} {'wall s':>8} {'x bare pytest':>14}")
        print("-" * 48)
        for label, wall in rows:
            print(f"{label:<24} {wall:>8.2f} {wall / baseline:>13.2f}x")
        smoke_row = rows[2][1]
        print(f"\nt4 smoke target <= {TARGET_S:g} s: {'PASS' if smoke_row <= TARGET_S else 'MISS'}")
    finally:
        if args.keep:
            print(f"repository kept in {repo}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
