#!/usr/bin/env python
"""Benchmark ``t4 registry docmap``: cold and no-op wall time and peak memory, next to the floor.

Run from anywhere (it is a script, not a test)::

    python benchmarks/bench_registry.py [--sizes 150,2000,10000] [--repeat 5]

What it does:

* builds synthetic git repositories (``synthetic_repo.py``) with N modules each in a temporary folder: every module is a
  package folder (``__init__.py``, two source files, ``tests/test_<name>.py``, ``README.md``,
  sometimes ``docs/``) with a ``module.manifest.json`` of 2-8 KB shaped like the real ones in
  ``../shared/fixtures/lukhas`` (same top-level keys, ``_provenance``, ``apis``, ``x_legacy`` and
  so on, with varied names and list lengths); about 10 % of the modules are nested inside others.
  Each repository is ``git init``-ed with one commit, because T4 lists files with ``git ls-files``;
* also measures a git-initialised copy of ``/work/shared/fixtures/lukhas`` (140 manifests) when
  it exists (the fixture's reference ``docs/_generated`` outputs are left out of the copy);
* per repository: the *cold* time (no ``.t4/`` state, outputs removed), then the *no-op* time
  (second and later runs, median of ``--repeat``), and the peak RSS of the t4 process;
* the *floor* is ``python -c "import json"`` measured exactly the same way.

Every command runs under a fresh wrapper process that times it with ``perf_counter`` and reads
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after reaping it, so the peak RSS is that of the t4
process alone (its ``git`` children are far smaller), never of this script.

``t4`` is run as the console script next to this interpreter (not through a pyenv shim, which
adds ~0.15 s of bash on every call); ``--t4`` overrides the command.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from synthetic_repo import GENERATED, build_synthetic, copy_fixture

FIXTURE = Path("/work/shared/fixtures/lukhas")
OUTPUTS = ("MODULE_REGISTRY.json", "DOCUMENTATION_MAP.md", "MODULE_INDEX.md")
STATE_DIR = ".t4"

# (repo label, metric) -> (limit, unit); the targets on a 2-core machine
TARGETS = {
    ("fixture-lukhas", "noop"): 0.25,
    ("fixture-lukhas", "cold"): 0.6,
    ("synth-10000", "noop"): 1.5,
    ("synth-10000", "cold"): 8.0,
    ("synth-10000", "rss"): 300.0,
}

# Runs one command, reports its wall time and the peak RSS of the (reaped) child as JSON.
WRAPPER = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
json.dump({"rc": p.returncode, "wall": wall, "maxrss_kb": ru.ru_maxrss,
           "cpu": ru.ru_utime + ru.ru_stime,
           "stdout": p.stdout.decode("utf-8", "replace")[-20000:],
           "stderr": p.stderr.decode("utf-8", "replace")[-4000:]}, sys.stdout)
"""


@dataclass
class Run:
    rc: int
    wall: float
    maxrss_kb: int
    cpu: float
    stdout: str
    stderr: str

    @property
    def rss_mb(self) -> float:
        return self.maxrss_kb / 1024  # Linux reports ru_maxrss in KiB


def measure(cmd: list[str], cwd: Path | None = None) -> Run:
    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], cwd=cwd, capture_output=True, check=True)
    return Run(**json.loads(out.stdout))


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    repo: str
    modules: int | None = None
    manifests: int = 0
    build_s: float = 0.0
    cold_s: list[float] = field(default_factory=list)
    noop_s: list[float] = field(default_factory=list)
    noop_cpu_s: list[float] = field(default_factory=list)   # user+sys of t4 and its children
    cold_rss_mb: float = 0.0
    noop_rss_mb: float = 0.0
    noop_ok: bool = True           # doit reported every task up to date on every no-op run
    failures: list[str] = field(default_factory=list)

    @property
    def cold(self) -> float:
        return statistics.median(self.cold_s) if self.cold_s else float("nan")

    @property
    def noop(self) -> float:
        return statistics.median(self.noop_s) if self.noop_s else float("nan")

    @property
    def rss(self) -> float:
        return max(self.cold_rss_mb, self.noop_rss_mb)


def reset(repo: Path) -> None:
    """Back to a fresh clone: no doit state, no generated outputs."""
    shutil.rmtree(repo / STATE_DIR, ignore_errors=True)
    for name in OUTPUTS:
        (repo / GENERATED / name).unlink(missing_ok=True)


def executed_tasks(stdout: str) -> list[str]:
    """Tasks doit ran (``.  name``), as opposed to skipped as up to date (``-- name``)."""
    return [line[3:].strip() for line in stdout.splitlines() if line.startswith(".  ")]


def bench_repo(label: str, repo: Path, t4: list[str], repeat: int, cold_repeat: int) -> Result:
    # count from git, not by walking: git's background gc may be deleting .git/objects folders
    listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "*module.manifest.json"],
                            capture_output=True, check=True).stdout.split(b"\0")
    result = Result(label, manifests=sum(1 for name in listed if name))
    cmd = [*t4, "--root", str(repo), "registry", "docmap"]
    for _ in range(cold_repeat):
        reset(repo)
        run = measure(cmd)
        if run.rc != 0:
            result.failures.append(f"cold run exit {run.rc}: {run.stderr.strip()[-500:]}")
        result.cold_s.append(run.wall)
        result.cold_rss_mb = max(result.cold_rss_mb, run.rss_mb)
    result.modules = registered(repo, result)
    for _ in range(repeat):
        run = measure(cmd)
        if run.rc != 0:
            result.failures.append(f"no-op run exit {run.rc}: {run.stderr.strip()[-500:]}")
        ran = executed_tasks(run.stdout)
        if ran:
            result.noop_ok = False
            result.failures.append(f"no-op run executed {ran}")
        result.noop_s.append(run.wall)
        result.noop_cpu_s.append(run.cpu)
        result.noop_rss_mb = max(result.noop_rss_mb, run.rss_mb)
    after = registered(repo, result)
    if after != result.modules or not (repo / ".git").is_dir():
        result.failures.append(f"repository changed under the benchmark ({result.modules} -> {after} modules)")
    return result


def registered(repo: Path, result: Result) -> int | None:
    """module_count of the registry t4 wrote (None, and a failure, when there is none)."""
    try:
        return json.loads((repo / GENERATED / "MODULE_REGISTRY.json").read_bytes())["module_count"]
    except (OSError, ValueError, KeyError) as exc:
        result.failures.append(f"no registry: {exc}")
        return None


def source_digest() -> str:
    """Which t4tasks code was measured (the tree may change between runs): sha256 of its .py files."""
    out = subprocess.run([sys.executable, "-c", "import t4tasks, os; print(os.path.dirname(t4tasks.__file__))"],
                         capture_output=True, text=True)
    folder = Path(out.stdout.strip()) if out.returncode == 0 else None
    if folder is None or not folder.is_dir():
        return "unknown"
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{h.hexdigest()[:12]} ({folder})"


def byte_compile() -> None:
    """Write t4tasks' .pyc files first, as ``pip install`` does: where PYTHONDONTWRITEBYTECODE is
    set (it is on the machine these numbers come from), every run would otherwise compile T4's
    modules from source again, about 0.1 s that no installed T4 pays."""
    subprocess.run([sys.executable, "-c", "import compileall, os, t4tasks; "
                    "compileall.compile_dir(os.path.dirname(t4tasks.__file__), quiet=1)"], check=False)


def default_t4() -> list[str]:
    """The ``t4`` console script of this interpreter, bypassing any pyenv/asdf shim."""
    script = Path(sys.executable).with_name("t4")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "t4tasks.cli"]


# --------------------------------------------------------------------------- reporting


def verdict(value: float, limit: float) -> str:
    return "PASS" if value <= limit else "MISS"


def print_report(results: list[Result], floor: list[float], floor_rss: float, t4: list[str],
                 digest_at_start: str) -> list[str]:
    floor_med = statistics.median(floor)
    print()
    print(f"t4 command : {' '.join(t4)}")
    digest = source_digest()
    changed = "" if digest == digest_at_start else f"  CHANGED during the run (was {digest_at_start.split()[0]})"
    print(f"t4tasks    : source digest {digest}{changed}")
    print(f"python     : {sys.executable} ({sys.version.split()[0]}), {os.cpu_count()} CPUs")
    print(f"load avg   : {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other processes skew timings)")
    print(f"floor      : python -c 'import json'  median {floor_med:.3f} s "
          f"(min {min(floor):.3f}, n={len(floor)}), peak RSS {floor_rss:.1f} MB")
    print()
    head = f"{'repo':<16} {'modules':>8} {'build s':>8} {'cold s':>8} {'no-op med s':>12} " \
           f"{'no-op min..max':>15} {'no-op CPU s':>11} {'peak RSS MB':>12} {'no-op/floor':>12}  no-op clean"
    print(head)
    print("-" * len(head))
    for r in results:
        spread = f"{min(r.noop_s):.3f}..{max(r.noop_s):.3f}" if r.noop_s else "-"
        print(f"{r.repo:<16} {r.modules if r.modules is not None else '?':>8} {r.build_s:>8.1f} "
              f"{r.cold:>8.3f} {r.noop:>12.3f} {spread:>15} {statistics.median(r.noop_cpu_s) if r.noop_cpu_s else float('nan'):>11.3f} {r.rss:>12.1f} {r.noop / floor_med:>11.1f}x"
              f"  {'yes' if r.noop_ok else 'NO'}")
    print()
    print("Targets (issue #2, 2-core machine):")
    misses = []
    by_label = {r.repo: r for r in results}
    for (label, metric), limit in TARGETS.items():
        r = by_label.get(label)
        unit = "MB" if metric == "rss" else "s"
        desc = {"noop": "no-op median", "cold": "cold", "rss": "peak RSS"}[metric]
        if r is None:
            print(f"  {label:<16} {desc:<13} <= {limit:>6} {unit:<2}  n/a (not measured)")
            continue
        value = {"noop": r.noop, "cold": r.cold, "rss": r.rss}[metric]
        v = verdict(value, limit)
        if v == "MISS":
            misses.append(f"{label} {desc}")
        print(f"  {label:<16} {desc:<13} <= {limit:>6} {unit:<2}  measured {value:8.3f} {unit:<2}  {v}")
    for r in results:
        for failure in r.failures:
            print(f"  ! {r.repo}: {failure}")
    return misses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="150,2000,10000", help="module counts of the synthetic repos")
    ap.add_argument("--repeat", type=int, default=5, help="no-op runs per repo (median reported)")
    ap.add_argument("--cold-repeat", type=int, default=1, help="cold runs per repo (median reported)")
    ap.add_argument("--fixture", type=Path, default=FIXTURE, help="real fixture to copy (skipped when absent)")
    ap.add_argument("--no-fixture", action="store_true")
    ap.add_argument("--t4", help="command that runs t4 (default: the console script of this python)")
    ap.add_argument("--workdir", type=Path, help="build repos here instead of a temp folder (kept)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder and print its path")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    t4 = args.t4.split() if args.t4 else default_t4()

    # a private, unique folder: a fixed /tmp name could be shared (and cleaned) by someone else
    work = args.workdir or Path(tempfile.mkdtemp(prefix="t4-bench-registry-"))
    work.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    digest_at_start = source_digest()
    try:
        byte_compile()
        measure([sys.executable, "-c", "import json"])                     # warm the page cache
        floor_runs = [measure([sys.executable, "-c", "import json"]) for _ in range(max(args.repeat, 5))]
        floor = [r.wall for r in floor_runs]
        floor_rss = max(r.rss_mb for r in floor_runs)

        repos: list[tuple[str, Path, float, list[int]]] = []
        if not args.no_fixture and args.fixture.is_dir():
            t0 = time.perf_counter()
            dest = work / "fixture-lukhas"
            if not dest.exists():
                copy_fixture(args.fixture, dest)
            repos.append(("fixture-lukhas", dest, time.perf_counter() - t0, []))
        elif not args.no_fixture:
            print(f"note: fixture {args.fixture} absent, skipped", file=sys.stderr)
        for n in sizes:
            dest = work / f"synth-{n}"
            t0 = time.perf_counter()
            manifest_sizes = [] if dest.exists() else build_synthetic(dest, n)
            repos.append((f"synth-{n}", dest, time.perf_counter() - t0, manifest_sizes))
            if manifest_sizes:
                print(f"built {dest.name}: {n} modules, manifests {min(manifest_sizes)}-{max(manifest_sizes)} B "
                      f"(median {statistics.median(manifest_sizes):.0f} B) in {time.perf_counter() - t0:.1f} s",
                      file=sys.stderr)

        for label, path, build_s, _ in repos:
            print(f"measuring {label} ...", file=sys.stderr)
            result = bench_repo(label, path, t4, args.repeat, args.cold_repeat)
            result.build_s = build_s
            results.append(result)

        misses = print_report(results, floor, floor_rss, t4, digest_at_start)
        if args.json:
            args.json.write_text(json.dumps({
                "t4": t4, "python": sys.version, "cpus": os.cpu_count(),
                "floor_s": floor, "floor_rss_mb": floor_rss,
                "results": [{**asdict(r), "cold_median_s": r.cold, "noop_median_s": r.noop, "peak_rss_mb": r.rss}
                            for r in results],
                "targets": {f"{k[0]}:{k[1]}": v for k, v in TARGETS.items()}, "misses": misses,
            }, indent=2) + "\n")
    finally:
        if args.workdir or args.keep:
            print(f"repositories kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if any(r.failures for r in results):
        return 2
    return 1 if (args.strict and misses) else 0


if __name__ == "__main__":
    sys.exit(main())
