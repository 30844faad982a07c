"""doit's state database, committed as each task finishes."""
# doit's sqlite3 backend writes its state only when the run ends: Ctrl-C (and SIGTERM, which T4
# treats as Ctrl-C) saves it, but a ``kill -9`` or a CI runner killed hard loses every finished
# task, which then reruns. This subclass keeps the same file format and commits a task's row as
# soon as doit has recorded its success, so a hard kill loses at most the tasks in flight.

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable

import orjson
from doit.dependency import SqliteDB

from t4tasks.speed import digests
from t4tasks.speed.checker import ContentChecker

# the last key doit's Dependency.save_success() writes for a finished task
_LAST_KEY = "deps:"

PLUGIN = {"BACKEND": {"sqlite3": "t4tasks.speed.state:CommittingSqliteDB"}}


class OrjsonCodec:
    """doit's JSON text, read and written by orjson."""
    # A task with many file dependencies (validate) has a state row of megabytes, which the
    # standard library is slow to decode on every run (see docs/PERFORMANCE.md).

    def encode(self, data) -> str:
        try:
            return orjson.dumps(data).decode("utf-8")
        except TypeError:  # a value orjson refuses (an integer past 64 bits)
            return json.dumps(data)

    def decode(self, data: str):
        return orjson.loads(data)


class CommittingSqliteDB(SqliteDB):
    desc = "sqlite3, committed per finished task (T4)"

    def __init__(self, name, codec, *, module_name=None):
        super().__init__(name, OrjsonCodec(), module_name=module_name)

    def dump(self):
        """Also record the new mtimes of unchanged dependencies, in the rows of the tasks read this run."""
        # After a fresh clone, every one: the next run then decides by ``stat`` alone, not by hashing again.
        checker = ContentChecker.current
        refreshed = checker.refreshed if checker is not None else {}
        if refreshed:
            for task_id, row in self._cache.items():
                changed = False
                for dep, old in row.items():
                    state = refreshed.get(dep)
                    if state is not None and isinstance(old, list) and len(old) == 3 and old[2] == state[2] and old != state:
                        row[dep] = state
                        changed = True
                if changed:
                    self._dirty.add(task_id)
            refreshed.clear()
        self._surviving(super().dump)

    def set(self, task_id, dependency, value):
        super().set(task_id, dependency, value)
        if dependency == _LAST_KEY:
            def commit() -> None:
                self._conn.execute("insert or replace into doit values (?,?)",
                                   (task_id, self.codec.encode(self._cache[task_id])))
                self._conn.commit()
            self._surviving(commit)
            self._dirty.discard(task_id)
            digests.forget()  # a task ran: the next one stats the files it may have changed

    def remove(self, task_id):
        super().remove(task_id)
        digests.forget()  # a task failed: what it wrote is stale in this run's memory too

    def _surviving(self, write: Callable[[], None]) -> None:
        """``write()``; when a measured run deleted the state folder, again into a new state file."""
        try:
            write()
        except sqlite3.OperationalError:
            if os.path.exists(self.name):
                raise
            os.makedirs(os.path.dirname(self.name) or ".", exist_ok=True)
            self._conn = self._sqlite3(self.name)
            # the new file holds what this run knows: the tasks it did not read rerun next time
            self._dirty.update(self._cache)
            write()
