"""A doit file checker where content decides, not timestamps."""
# doit's MD5 checker trusts an unchanged mtime, but after a fresh clone every mtime is new, and it
# then re-hashes every dependency of every up-to-date task on every run (it only stores state for
# tasks that ran), once per task that lists the file. This checker keeps doit's state idea (mtime,
# size, digest) and takes digests from ``digests``, which reads a file at most once per run and
# remembers it across runs, so a clone with a restored ``.t4/`` reruns nothing whose content is
# unchanged, and pays the reading once.

from __future__ import annotations

import os

from doit.dependency import FileChangedChecker

from t4tasks.speed import digests


class ContentChecker(FileChangedChecker):
    """State is ``[mtime_ns, size, sha256]``; a changed mtime alone never triggers a rerun."""

    # the newest instance: the state backend asks it which states to refresh when the run ends
    current: "ContentChecker | None" = None

    def __init__(self) -> None:
        ContentChecker.current = self
        # doit's paths are relative to the root, the working folder of the whole run
        self._base = os.getcwd().rstrip(os.sep) + os.sep
        # within one doit run every file is read at most once, fresh or not
        self._memo: dict[str, tuple[int, int, str]] = {}
        # files whose mtime changed but not their content (a fresh clone): their new state, so an
        # up-to-date task's row can say so (doit saves state only for tasks that ran, and every
        # later run would otherwise hash them again)
        self.refreshed: dict[str, list] = {}
        # the stat doit took to decide a task was stale, reused to record its state once the task
        # succeeded: one stat per dependency instead of two, and the state recorded is that of
        # the content the task saw
        self._seen: dict[str, os.stat_result] = {}

    def info(self, path):
        stat = os.stat(path)
        self._seen[path] = stat
        return stat

    def _absolute(self, path: str) -> str:
        return path if path[:1] == os.sep else self._base + path

    def _digest(self, path: str, stat: os.stat_result) -> str:
        known = self._memo.get(path)
        if known and known[0] == stat.st_mtime_ns and known[1] == stat.st_size:
            return known[2]
        digest = digests.digest(self._absolute(path), stat)
        self._memo[path] = (stat.st_mtime_ns, stat.st_size, digest)
        return digest

    def check_modified(self, file_path, file_stat, state) -> bool:
        if not isinstance(state, (list, tuple)) or len(state) != 3:
            return True  # state from another checker: decide by running
        mtime_ns, size, digest = state
        if file_stat.st_mtime_ns == mtime_ns and file_stat.st_size == size:
            return False
        if file_stat.st_size != size:
            return True
        if self._digest(file_path, file_stat) != digest:
            return True
        self.refreshed[file_path] = [file_stat.st_mtime_ns, file_stat.st_size, digest]
        return False

    def get_state(self, dep, current_state):
        stat = self._seen.pop(dep, None) or digests.stat(self._absolute(dep))
        if (isinstance(current_state, (list, tuple)) and len(current_state) == 3
                and current_state[0] == stat.st_mtime_ns and current_state[1] == stat.st_size):
            return None
        return [stat.st_mtime_ns, stat.st_size, self._digest(dep, stat)]
