"""The progress reporter's cost per finished task at 1,000 and 10,000 measured modules: a script.

A fresh clone with a few stale modules: one task measures, every other one adopts its ledger
record and finishes at once, so the reporter's own work is all there is. Prints a table with the
seconds spent in the reporter per finished task and the ratio to the 1,000-module row.

    python benchmarks/bench_reporter.py [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import orjson
from doit.task import Task

from t4tasks.console.reporter import ProgressReporter


def _tasks(folder: Path, count: int) -> list[Task]:
    tasks = []
    for i in range(count):
        target = folder / f"coverage_m{i}.json"
        target.write_bytes(orjson.dumps({"status": "ok", "coverage": 90.0, "duration_s": 1.0 + i % 7}))
        tasks.append(Task(f"coverage:m{i}", [], targets=[str(target)], subtask_of="coverage"))
    return tasks


def run(count: int) -> float:
    """Seconds spent in the reporter for ``count`` finished tasks, all but one adopted."""
    with tempfile.TemporaryDirectory() as scratch:
        tasks = _tasks(Path(scratch), count)
        reporter = ProgressReporter(io.StringIO(), {"verbosity": 0, "failure_verbosity": 0})
        reporter.initialize({t.name: t for t in tasks}, [t.name for t in tasks])
        for task in tasks[1:]:  # adopted: their result says so
            entry = orjson.loads(Path(task.targets[0]).read_bytes())
            Path(task.targets[0]).write_bytes(orjson.dumps({**entry, "outcome": "from_ledger"}))
        started = time.perf_counter()
        for task in tasks:
            reporter.execute_task(task)
            reporter.add_success(task)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    rows = [(size, run(size)) for size in sizes]
    base = rows[0][1] / rows[0][0]
    print(f"{'tasks':>7} {'reporter s':>11} {'ms per task':>12} {'x per task vs first':>20}")
    for size, seconds in rows:
        print(f"{size:>7} {seconds:>11.3f} {1000 * seconds / size:>12.3f} {seconds / size / base:>20.1f}")


if __name__ == "__main__":
    main()
