"""Progress for long runs: ``[12/140] coverage:memory ok 81.20% (3.1 s) · ETA 2m10s``.

A doit reporter (the default for T4; ``--reporter json`` and the other doit reporters still work).
It counts the measurement sub-tasks a run selected, prints one line per finished module with the
number it recorded, estimates the time left from each module's last recorded duration, corrected
by how fast this run actually goes (which accounts for ``-n``), and ends with a summary table.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import orjson
from doit.reporter import ConsoleReporter

from t4tasks.console import progress
from t4tasks.speed import digests

MEASURED = ("coverage", "bench")
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


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class ProgressReporter(ConsoleReporter):
    desc = "T4: one line per measured module with an ETA, and a summary table"

    def initialize(self, tasks, selected_tasks):
        super().initialize(tasks, selected_tasks)
        names = _closure(tasks, list(selected_tasks or []))
        self.measured = {n: tasks[n] for n in sorted(names) if tasks[n].subtask_of in MEASURED}
        # expected seconds per task: the previous result's duration (1 s when unknown)
        self.expected = {n: float(_result(t).get("duration_s") or 1.0) for n, t in self.measured.items()}
        self.finished: set[str] = set()
        self.fresh: list[tuple[str, dict]] = []
        self.uptodate = 0
        self.started = time.monotonic()
        self.spent_expected = 0.0

    def _progress(self, name: str) -> str:
        self.finished.add(name)
        return f"[{len(self.finished)}/{len(self.measured)}]"

    def _eta(self) -> str:
        remaining = sum(v for n, v in self.expected.items() if n not in self.finished)
        if not remaining:
            return ""
        elapsed = time.monotonic() - self.started
        speed = elapsed / self.spent_expected if self.spent_expected else 1.0
        return f" · ETA {_duration(remaining * speed)}"

    def add_success(self, task):
        super().add_success(task)
        digests.forget()  # the next task stats its files afresh (see digests)
        if task.name in self.measured:
            entry = _result(task)
            self.spent_expected += self.expected[task.name]
            self.fresh.append((task.name, entry))
            kind, module = task.name.split(":", 1)
            self.write(f"{self._progress(task.name)} {progress.line(kind, module, entry)}{self._eta()}\n")

    def add_failure(self, task, fail):
        super().add_failure(task, fail)
        digests.forget()
        if task.name in self.measured:
            self.spent_expected += self.expected[task.name]
            self.write(f"{self._progress(task.name)} {task.name} FAILED (T4 error, see below){self._eta()}\n")

    def _write_failure(self, result, write_exception=True):
        """An action's error caused by its input (a bad option, a file in the way) is one line;
        only T4's own bugs keep their traceback."""
        said = user_error(result["exception"].traceback)
        if said is None:
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
        statuses = Counter((name.split(":", 1)[0], entry.get("status", "?")) for name, entry in self.fresh)
        self.write(f"\nmeasured {len(self.fresh)} module task(s), {self.uptodate} up to date, "
                   f"{_duration(time.monotonic() - self.started)}\n")
        if statuses:
            self.write(f"{'kind':<10} {'status':<14} {'modules':>7}\n")
            for (kind, status), count in sorted(statuses.items()):
                self.write(f"{kind:<10} {status:<14} {count:>7}\n")
