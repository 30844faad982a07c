"""File content digests, remembered across runs by (mtime, size, inode) under ``.t4/``.

Content decides what is stale, but reading every input file on every run would cost more than
the run itself on a large repository (and after a fresh clone, when every mtime is new, doit's own
checker re-reads every dependency on every run, because it only saves state for tasks that ran).
So a file's sha256 is computed once and reused while its stat says it is the same file. Like
git's index, an entry whose mtime is within a few seconds of the moment it was recorded is not
trusted later ("racily clean": the file could change again within the same clock tick).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
import time
from pathlib import Path

import orjson

from . import atomic

RACY_SECONDS = 3.0


def sha256_of(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class DigestCache:
    """``digest(path)`` with memory for the run and, when ``store`` is set, across runs."""

    def __init__(self, store: Path | None = None):
        self.store = store
        self._lock = threading.Lock()
        self._entries: dict[str, list] = {}
        self._dirty = False
        if store is not None:
            try:
                self._entries = orjson.loads(store.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                self._entries = {}  # a missing or torn cache only costs re-reading files

    def digest(self, path: str, stat: os.stat_result | None = None) -> str:
        stat = stat or os.stat(path)
        key = os.path.abspath(path)
        known = self._entries.get(key)
        fingerprint = [stat.st_mtime_ns, stat.st_size, stat.st_ino]
        if known and known[:3] == fingerprint and known[4] - stat.st_mtime_ns / 1e9 > RACY_SECONDS:
            return known[3]
        digest = sha256_of(path)
        with self._lock:
            self._entries[key] = [*fingerprint, digest, time.time()]
            self._dirty = True
        return digest

    def save(self) -> None:
        if self.store is not None and self._dirty:
            with self._lock:
                data = orjson.dumps(self._entries)
                self._dirty = False
            atomic.write_bytes(self.store, data)


_cache = DigestCache()


def use_store(store: Path) -> None:
    """Remember digests in ``store`` (T4 points it into its state folder) and save at exit."""
    global _cache
    if _cache.store != store:
        _cache.save()
        _cache = DigestCache(store)


def digest(path: str | os.PathLike, stat: os.stat_result | None = None) -> str:
    return _cache.digest(str(path), stat)


atexit.register(lambda: _cache.save())
