"""doit's state database, committed as each task finishes.

doit's sqlite3 backend writes its state only when the run ends: Ctrl-C (and SIGTERM, which T4
treats as Ctrl-C) saves it, but a ``kill -9`` or a CI runner killed hard loses every finished
task, which then reruns. This subclass keeps the same file format and commits a task's row as
soon as doit has recorded its success, so a hard kill loses at most the tasks in flight.
"""

from __future__ import annotations

from doit.dependency import SqliteDB

# the last key doit's Dependency.save_success() writes for a finished task
_LAST_KEY = "deps:"

PLUGIN = {"BACKEND": {"sqlite3": "t4tasks.state:CommittingSqliteDB"}}


class CommittingSqliteDB(SqliteDB):
    desc = "sqlite3, committed per finished task (T4)"

    def set(self, task_id, dependency, value):
        super().set(task_id, dependency, value)
        if dependency == _LAST_KEY:
            self._conn.execute("insert or replace into doit values (?,?)",
                               (task_id, self.codec.encode(self._cache[task_id])))
            self._conn.commit()
            self._dirty.discard(task_id)
