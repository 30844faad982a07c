"""Progress for long runs: tasks done of total, each task's outcome and time, and an ETA."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
from doit.reporter import ConsoleReporter

from t4tasks.catalog.project import load_cached
from t4tasks.console import progress
from t4tasks.ledgers import record, records, shard

MEASURED = records.MEASURED_KINDS
# exceptions that say what is wrong with the input or the file system, not with T4
USER_ERRORS = frozenset({"ValueError", "OSError", "FileExistsError", "FileNotFoundError", "PermissionError",
                         "IsADirectoryError", "NotADirectoryError", "UnicodeDecodeError", "ConfigError",
                         "UnsafePath", "SymlinkRefused", "ChangesError", "GitRefused", "SecurityError",
                         "TemplateError", "TemplateSyntaxError", "UndefinedError"})


def _closure(tasks: dict, selected: list[str]) -> set[str]:
    seen, stack = set(), list(selected)
    while stack:
        name = stack.pop()
        if name in seen or name not in tasks:
            continue
        seen.add(name)
        stack.extend(tasks[name].task_dep)
        stack.extend(tasks[name].setup_tasks)
    return seen


def _result(task) -> dict:
    try:
        return orjson.loads(Path(task.targets[0]).read_bytes())
    except (OSError, IndexError, orjson.JSONDecodeError):
        return {}


def user_error(traceback: list[str] | str) -> str | None:
    """The message of a traceback's exception when it is one the user can act on, else None."""
    last = traceback[-1] if traceback else ""
    kind, _, message = last.strip().partition(": ")
    return message if kind.rsplit(".", 1)[-1] in USER_ERRORS else None


def _recorded_durations() -> dict[str, float]:
    """The last recorded duration of each ``kind:module`` in the working directory's ledgers."""
    project = load_cached(os.getcwd())
    return {f"{kind}:{module}": seconds
            for kind in records.MEASURED_KINDS
            for module, seconds in shard.durations_from_ledger(
                record.ledger_path(project, records.ledger_file(kind))).items()}


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


class ProgressReporter(ConsoleReporter):
    desc = "T4: one line per measured module with an ETA, and a summary table"

    def initialize(self, tasks, selected_tasks):
        super().initialize(tasks, selected_tasks)
        names = _closure(tasks, list(selected_tasks or []))
        self.measured = {n: tasks[n] for n in sorted(names) if tasks[n].subtask_of in MEASURED}
        # expected seconds per task: the previous result's duration (None: never measured)
        self.expected = {n: _seconds(_result(t).get("duration_s")) for n, t in self.measured.items()}
        if None in self.expected.values():  # no result file (a fresh clone): the ledgers know
            recorded = _recorded_durations()
            self.expected = {n: seconds or recorded.get(n) for n, seconds in self.expected.items()}
        self.finished: set[str] = set()
        self.fresh: list[tuple[str, dict]] = []
        self.uptodate = 0
        self.started = time.monotonic()
        self.took: dict[str, float] = {}  # this run's measured seconds per finished task
        self.began: dict[str, float] = {}  # when each measured task started
        self.running: set[str] = set()  # measured tasks started and not finished
        self.jobs = 0  # the most measured tasks seen running at once
        self.eta_at: float | None = None  # when the last schedule expected the run to end
        self.eta_made = 0.0  # and when that schedule was made
        self.starting = threading.Lock()

    def _progress(self, name: str) -> str:
        self.finished.add(name)
        with self.starting:
            self.running.discard(name)
        return f"[{len(self.finished)}/{len(self.measured)}]"

    def _eta(self) -> str:
        if len(self.finished) == len(self.expected) or not self.took:
            return ""
        now = time.monotonic()
        # The schedule walks every task left: made again for each of thousands of tasks adopted
        # from the ledger within a second, the reporter grew quadratic (benchmarks/bench_reporter.py);
        # within a second of the last schedule, its end stands.
        if self.eta_at is None or now - self.eta_made >= 1.0:
            self.eta_at, self.eta_made = now + self._schedule(now), now
        return f" · ETA {progress.clock(max(self.eta_at - now, 0.0))}"

    def _schedule(self, now: float) -> float:
        """Seconds until every measured task left has finished, as the workers would run them."""
        left = [n for n in self.expected if n not in self.finished]
        # a task never measured is guessed at the median of this run's tasks
        guess = sorted(self.took.values())[len(self.took) // 2]
        # how this run compares with the last one, from tasks measured both times (bounded: one
        # odd module must not multiply every estimate)
        known = [n for n in self.took if self.expected[n]]
        pace = sum(self.took[n] for n in known) / sum(self.expected[n] for n in known) if known else 1.0
        pace = min(max(pace, 0.25), 4.0)

        def need(name: str) -> float:
            return self.expected[name] * pace if self.expected[name] else guess

        with self.starting:
            began = dict(self.began)
        # the workers: those seen running side by side, else as many as this run's work so far implies
        jobs = max(self.jobs, round(sum(self.took.values()) / max(now - self.started, 1e-9)), 1)
        # each worker's seconds until free: a running task's expected rest, then the waiting tasks
        # in the order they start (longest first, see tasks.common), each on the first free worker
        free = sorted(max(need(n) - (now - began[n]), 1.0) for n in left if n in began)[:jobs]
        free += [0.0] * (jobs - len(free))
        for name in sorted((n for n in left if n not in began), key=need, reverse=True):
            free[free.index(min(free))] += need(name)
        return max(free)

    def execute_task(self, task):
        super().execute_task(task)
        if task.name in self.measured:
            with self.starting:  # doit's worker threads start tasks side by side
                self.began[task.name] = time.monotonic()
                self.running.add(task.name)
                self.jobs = max(self.jobs, len(self.running))

    def add_success(self, task):
        super().add_success(task)
        if task.name in self.measured:
            entry = _result(task)
            if entry.get("outcome") != "from_ledger":  # adopted: the duration is the record's, not this run's
                self.took[task.name] = _seconds(entry.get("duration_s")) or 0.1
            self.fresh.append((task.name, entry))
            kind, module = task.name.split(":", 1)
            self.write(f"{self._progress(task.name)} {progress.line(kind, module, entry)}{self._eta()}\n")

    def add_failure(self, task, fail):
        super().add_failure(task, fail)
        if task.name in self.measured:
            self.write(f"{self._progress(task.name)} {task.name} FAILED (T4 error, see below){self._eta()}\n")

    def _write_failure(self, result, write_exception=True):
        """An action's error caused by its input (a bad option, a file in the way) is one line."""
        said = user_error(result["exception"].traceback)
        if said is None:  # only T4's own bugs keep their traceback
            return super()._write_failure(result, write_exception)
        self.write(f"t4: {result['task'].name}: {said}\n")

    def skip_uptodate(self, task):
        super().skip_uptodate(task)
        if task.name in self.measured:
            self.uptodate += 1
            self.finished.add(task.name)

    def complete_run(self):
        if self.measured:
            self._summary()
        super().complete_run()

    def _summary(self) -> None:
        statuses = Counter((name.split(":", 1)[0], records.status_of(entry) if entry else "?") for name, entry in self.fresh)
        adopted = sum(1 for _, entry in self.fresh if entry.get("outcome") == "from_ledger")
        self.write(f"\nmeasured {len(self.fresh) - adopted} module task(s), {adopted} taken from the ledger "
                   f"(same key, not measured), {self.uptodate} up to date, "
                   f"{progress.clock(time.monotonic() - self.started)}\n")
        if statuses:
            self.write(f"{'kind':<10} {'status':<14} {'modules':>7}\n")
            for (kind, status), count in sorted(statuses.items()):
                self.write(f"{kind:<10} {status:<14} {count:>7}\n")
