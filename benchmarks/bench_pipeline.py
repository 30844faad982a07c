#!/usr/bin/env python
"""Benchmark the whole ``t4 validate`` pipeline at scale (issue 7, item 6). A script, not a test::

    python benchmarks/bench_pipeline.py [--sizes 150,2000,10000] [--repeat 5] [--profile] [--keep]

Per size N it builds a synthetic git repository (the builder of ``synthetic_repo.py``: N modules
with lukhas-shaped manifests, a package, a test file and a README each, ~10 % nested), then
**seeds the coverage ledger**: one synthetic ``coverage`` record per module with the module's real
input digest, written through ``t4tasks.ledgers.ledger`` (record envelope, hash chain) and
``t4tasks.ledgers.observed`` (the manifests' observed blocks), committed. So meta_registry, trends and the
coverage/ledger gates work on real data; nothing is ever measured (``t4 validate`` loads no
measurement task creator).

Scenarios, each timed as one ``t4 --root R validate`` in a fresh process:

* ``cold``       no ``.t4/`` state and no generated files;
* ``no-op``      nothing changed since the last run (median of ``--repeat``);
* ``one change`` one manifest's description edited before each run (median of ``--repeat``);
* ``clone``      ``git clone`` of the repository (outputs committed) with the ``.t4/`` of a run
                 on the committed tree copied over (as CI restores the cache of the last run on
                 main), so every mtime is new (median of ``--clone-repeat``, a new clone each time).

Every row shows the wall time, the CPU time of t4 and its children, the peak RSS of the largest
child (``getrusage(RUSAGE_CHILDREN)`` in a wrapper process) and the ratio to the *floor*: a fresh
interpreter that ``stat``s every file of the repository (``.git`` excluded). A row is flagged when
doit executed a task where none should run (no-op, clone) or did not rerun validate after a
change. ``--profile`` re-runs the row that is worst against its target under cProfile and prints
the top 15 functions (by cumulative and by own time).
"""

from __future__ import annotations

import argparse
import cProfile  # noqa: F401  (python -m cProfile is what --profile runs)
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_registry as reg  # noqa: E402  (the timing wrapper)
import synthetic_repo  # noqa: E402  (the synthetic repository builder)

# (size, scenario) -> limit: seconds, or MB for "rss"
TARGETS = {
    (150, "no-op"): 0.3,
    (10000, "no-op"): 2.0,
    (10000, "one change"): 3.0,
    (10000, "clone"): 3.0,
    (10000, "rss"): 400.0,
}
SCENARIOS = ("cold", "no-op", "one change", "clone")
VALIDATE_TASKS = {"registry", "summaries", "docmap", "meta_registry", "trends", "validate"}

FLOOR = ("import os, sys\n"
         "n = 0\n"
         "for d, dirs, files in os.walk(sys.argv[1]):\n"
         "    if '.git' in dirs: dirs.remove('.git')\n"
         "    for f in files:\n"
         "        os.stat(os.path.join(d, f)); n += 1\n"
         "print(n)\n")


# --------------------------------------------------------------------------- the repositories


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
           "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def seed_ledgers(repo: Path, seed: int = 7) -> int:
    """One synthetic coverage record per module, as ``t4 coverage`` would have written it:
    the real input digest, the ledger's own envelope and hash chain, the manifest's observed block.
    One pass (``ledger.append`` re-reads the file's tail per call, quadratic for 10,000 fresh
    modules) using the ledger's own record and chain functions; checked with ``verify_chain``."""
    import orjson

    from t4tasks.measure import inputs
    from t4tasks.ledgers import ledger
    from t4tasks.ledgers import observed
    from t4tasks.ledgers import record
    from t4tasks.catalog.project import Project

    project = Project.load(repo)
    rng = random.Random(seed)
    head = git(repo, "rev-parse", "HEAD").strip()
    path = record.ledger_path(project, record.COVERAGE_LEDGER)
    path.parent.mkdir(parents=True, exist_ok=True)
    locks = Path(tempfile.mkdtemp(prefix="t4-bench-locks-"))
    start = datetime(2025, 10, 1, tzinfo=timezone.utc)
    lines, previous = [], None
    for i, module in enumerate(sorted(project.modules, key=lambda m: m.name)):
        files = inputs.module_inputs(project, module, module.test_paths)
        digest = inputs.input_digest(project.root, files, inputs.coverage_spec(project, module))
        lane_target = project.config.lanes.get(module.lane, 75.0) if hasattr(module, "lane") else 90.0
        value = round(rng.uniform(max(lane_target, 90.0), 100.0), 2)   # above every lane target
        statements = rng.randint(4, 60)
        values = {"status": "ok", "coverage": value, "line_pct": value, "branch_pct": value,
                  "statements": statements, "covered_lines": round(statements * value / 100),
                  "branches": 0, "covered_branches": 0, "files": len(files),
                  "tests": {"tests": 1, "failures": 0, "errors": 0, "skipped": 0},
                  "duration_s": round(rng.uniform(0.3, 3.0), 3)}
        entry = ledger.new_record("coverage", module.name, values, digest,
                                  ts=start + timedelta(seconds=i), git_commit=head)
        line = ledger._checked(entry)
        line[ledger.PREV] = ledger._line_hash(previous) if previous is not None else None
        raw = orjson.dumps(line, option=orjson.OPT_SORT_KEYS)
        lines.append(raw)
        previous = raw
        observed.set_coverage(repo / module.manifest_path, locks, value, entry[ledger.TS], digest)
    path.write_bytes(b"".join(raw + b"\n" for raw in lines))
    ledger._ignore_locks(path.parent)
    shutil.rmtree(locks, ignore_errors=True)
    problems = ledger.verify_chain(path)
    if problems:
        raise SystemExit(f"seeded ledger does not verify: {problems[:3]}")
    shutil.rmtree(repo / ".t4", ignore_errors=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "seed coverage ledger and observed blocks")
    return len(lines)


def build(work: Path, n: int) -> tuple[Path, float, float]:
    repo = work / f"synth-{n}"
    t0 = time.perf_counter()
    if not repo.exists():
        synthetic_repo.build_synthetic(repo, n)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    if not (repo / "manifests" / ".ledger" / "coverage.ndjson").exists():
        seed_ledgers(repo)
    return repo, built, time.perf_counter() - t0


def clean_outputs(repo: Path) -> None:
    shutil.rmtree(repo / ".t4", ignore_errors=True)
    shutil.rmtree(repo / "docs" / "_generated", ignore_errors=True)
    shutil.rmtree(repo / "trends", ignore_errors=True)


def edit_one_manifest(repo: Path, counter: int) -> str:
    """Change the description of one (always the same) manifest: a real content change."""
    manifest = sorted(repo.glob("*/module.manifest.json"))[len(list(repo.glob("*/module.manifest.json"))) // 2]
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["description"] = f"Edited description, revision {counter}"
    manifest.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest.relative_to(repo).as_posix()


# --------------------------------------------------------------------------- measuring


@dataclass
class Row:
    size: int
    scenario: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)
    repo: Path | None = None
    pre: list[str] = field(default_factory=list)   # how to prepare a profiled rerun

    @property
    def wall(self) -> float:
        return statistics.median(self.walls) if self.walls else float("nan")

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus) if self.cpus else float("nan")


def validate_cmd(t4: list[str], repo: Path) -> list[str]:
    return [*t4, "--root", str(repo), "validate"]


def timed(row: Row, t4: list[str], repo: Path, expect: str) -> reg.Run:
    run = reg.measure(validate_cmd(t4, repo))
    executed = set(reg.executed_tasks(run.stdout))
    row.walls.append(run.wall)
    row.cpus.append(run.cpu)
    row.rss_mb = max(row.rss_mb, run.rss_mb)
    if run.rc != 0:
        tail = "; ".join(line for line in run.stdout.splitlines() if line.startswith("validate:"))
        row.notes.append(f"exit {run.rc} {tail}".strip())
    if expect == "nothing" and executed:
        row.notes.append(f"executed {sorted(executed)}")
    elif expect == "validate" and "validate" not in executed:
        row.notes.append(f"validate not rerun (executed {sorted(executed)})")
    elif expect == "all" and executed != VALIDATE_TASKS:
        row.notes.append(f"cold executed {sorted(executed)}")
    return run


def bench_size(n: int, repo: Path, work: Path, t4: list[str], repeat: int, clone_repeat: int) -> list[Row]:
    rows = {s: Row(n, s, repo=repo) for s in SCENARIOS}

    clean_outputs(repo)
    timed(rows["cold"], t4, repo, "all")

    for _ in range(repeat):
        timed(rows["no-op"], t4, repo, "nothing")

    for i in range(repeat):
        edit_one_manifest(repo, i)
        timed(rows["one change"], t4, repo, "validate")
    timed(Row(n, "settle"), t4, repo, "nothing")   # the next runs start from a settled state

    # the fresh clone: outputs committed (a user commits them), .t4/ restored from the "cache"
    # that the last run on the committed tree saved (in CI: the last run on main)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "generated outputs")
    timed(Row(n, "settle"), t4, repo, "nothing")
    for i in range(clone_repeat):
        clone = work / f"clone-{n}-{i}"
        shutil.rmtree(clone, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
        shutil.copytree(repo / ".t4", clone / ".t4")
        timed(rows["clone"], t4, clone, "nothing")
        rows["clone"].repo = clone
        if i < clone_repeat - 1:
            shutil.rmtree(clone, ignore_errors=True)
    return list(rows.values())


def floor(repo: Path, repeat: int) -> tuple[float, int]:
    runs = [reg.measure([sys.executable, "-c", FLOOR, str(repo)]) for _ in range(max(repeat, 3))]
    return statistics.median(r.wall for r in runs), int(runs[0].stdout.strip() or 0)


# --------------------------------------------------------------------------- reporting


def target_of(row: Row) -> float | None:
    return TARGETS.get((row.size, row.scenario))


def print_table(rows: list[Row], floors: dict[int, tuple[float, int]]) -> None:
    head = (f"{'modules':>7} {'files':>7} {'scenario':<11} {'wall s':>7} {'CPU s':>6} {'peak RSS MB':>11} "
            f"{'floor s':>7} {'x floor':>7} {'target':>8}  verdict / notes")
    print(head)
    print("-" * len(head))
    for row in rows:
        floor_s, files = floors[row.size]
        limit = target_of(row)
        verdict = "" if limit is None else ("PASS" if row.wall <= limit else "MISS")
        target = f"<= {limit:g} s" if limit is not None else ""
        notes = "; ".join(dict.fromkeys(row.notes))
        print(f"{row.size:>7} {files:>7} {row.scenario:<11} {row.wall:>7.3f} {row.cpu:>6.2f} {row.rss_mb:>11.1f} "
              f"{floor_s:>7.3f} {row.wall / floor_s:>6.1f}x {target:>8}  {verdict} {notes}".rstrip())
    for size in sorted({r.size for r in rows}):
        limit = TARGETS.get((size, "rss"))
        if limit is not None:
            peak = max(r.rss_mb for r in rows if r.size == size)
            print(f"{size:>7} peak RSS over all scenarios {peak:.1f} MB (target <= {limit:g} MB): "
                  f"{'PASS' if peak <= limit else 'MISS'}")


def worst(rows: list[Row]) -> Row:
    """The row furthest over (or closest to) its target; without targets, the slowest."""
    targeted = [r for r in rows if target_of(r)]
    if targeted:
        return max(targeted, key=lambda r: r.wall / target_of(r))
    return max(rows, key=lambda r: r.wall)


def profile(row: Row, t4_python: str, top: int = 15) -> None:
    """Re-run the row's scenario once under cProfile (in a fresh process) and print the top."""
    repo = row.repo
    if row.scenario == "cold":
        clean_outputs(repo)
    elif row.scenario == "one change":
        edit_one_manifest(repo, 999)
    elif row.scenario == "clone":
        src = repo.parent / f"synth-{row.size}"
        shutil.rmtree(repo, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", str(src), str(repo)], check=True)
        shutil.copytree(src / ".t4", repo / ".t4")
    out = repo.parent / f"profile-{row.size}-{row.scenario.replace(' ', '-')}.prof"
    # t4's own entry point ends with os._exit, before cProfile could write its file: call main()
    entry = repo.parent / "profile_t4.py"
    entry.write_text("import sys\nfrom t4tasks.cli import main\nsys.exit(main())\n", encoding="utf-8")
    t0 = time.perf_counter()
    subprocess.run([t4_python, "-m", "cProfile", "-o", str(out), str(entry), "--root", str(repo), "validate"],
                   capture_output=True, check=False)
    took = time.perf_counter() - t0
    print(f"\ncProfile of {row.size} modules, {row.scenario} ({took:.2f} s under the profiler):")
    for key in ("cumulative", "tottime"):
        buffer = io.StringIO()
        pstats.Stats(str(out), stream=buffer).strip_dirs().sort_stats(key).print_stats(top)
        text = buffer.getvalue()
        start = text.find("   ncalls")
        print(f"-- top {top} by {key}")
        print(text[start:].rstrip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="150,2000,10000")
    ap.add_argument("--repeat", type=int, default=5, help="runs of no-op and of one change (median)")
    ap.add_argument("--clone-repeat", type=int, default=2, help="fresh clones measured (median)")
    ap.add_argument("--t4", help="command that runs t4 (default: the console script of this python)")
    ap.add_argument("--workdir", type=Path, help="build here (kept; repositories are reused when present)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--profile", action="store_true", help="cProfile the worst row and print the top 15")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    t4 = args.t4.split() if args.t4 else reg.default_t4()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="t4-bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    digest = reg.source_digest()
    rows: list[Row] = []
    floors: dict[int, tuple[float, int]] = {}
    try:
        reg.byte_compile()
        reg.measure([sys.executable, "-c", "pass"])  # warm the page cache
        for n in sizes:
            repo, built, seeded = build(work, n)
            print(f"synth-{n}: built in {built:.1f} s, ledger seeded in {seeded:.1f} s", file=sys.stderr)
            t0 = time.perf_counter()
            rows += bench_size(n, repo, work, t4, args.repeat, args.clone_repeat)
            floors[n] = floor(repo, args.repeat)
            print(f"synth-{n}: measured in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        print()
        print(f"t4         : {' '.join(t4)}; t4tasks {digest}")
        print(f"python     : {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"load avg {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("ledgers    : seeded with one synthetic coverage record per module (real input digests); "
              "validate never measures")
        print("floor      : a fresh python that stats every file of the repository (.git excluded)\n")
        print_table(rows, floors)
        if args.json:
            args.json.write_text(json.dumps([{"size": r.size, "scenario": r.scenario, "walls": r.walls,
                                              "cpus": r.cpus, "rss_mb": r.rss_mb, "notes": r.notes,
                                              "floor_s": floors[r.size][0]} for r in rows], indent=2) + "\n")
        if args.profile and rows:
            profile(worst(rows), sys.executable)
    finally:
        if args.workdir or args.keep:
            print(f"repositories kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
