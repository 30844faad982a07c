"""Per-item results remembered across runs by the content of the files they were computed from."""
# Each such computation names its inputs in a key (content ids from ``digests``: within a run, a
# dict lookup for a file git lists as clean), and a ``Memo`` returns the stored result for a known
# key. A key that names files must be given as a callable: ``get`` then knows which files a
# computed value was made from. doit decides per task; a task over every module (summaries, the
# docs check, META's docs block) would otherwise redo every module's pure computation because one
# module changed.
#
# A memo is one JSON file under the state folder per kind of result. ``save`` writes only the
# entries used in this run, so results of deleted or changed inputs do not pile up. Values must be
# JSON-serialisable; a missing or torn file only costs recomputing.

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from t4tasks import __version__
from t4tasks.speed import atomic, digests
from t4tasks.speed.digests import sha256_of

ABSENT = "-"  # the key part of a file that does not exist (or may not be read)


class Memo:
    """A memo made by other code (another T4 version, or an edited checkout of this one) is not used."""

    def __init__(self, store: Path | None):
        self.store = store
        # only a state folder keeps a memo: without one (a repository read as a library) nothing
        # is looked up or kept, and keys, which cost a stat or a hash each, are not computed
        self.enabled = store is not None and store.parent.parent.is_dir()
        self.code = code_id() if self.enabled else ""
        self._known: dict[str, Any] = {}
        self._used: dict[str, Any] = {}
        self._changed = False
        if self.enabled:
            try:
                loaded = orjson.loads(store.read_bytes())
                if isinstance(loaded, dict) and loaded.get("code") == self.code:
                    self._known = loaded.get("entries", {})
            except (OSError, orjson.JSONDecodeError):
                pass

    def get(self, key: str | Callable[[], str], compute: Callable[[], Any], unchecked: list[str] | None = None) -> Any:
        """The remembered value for ``key`` (or for what ``key()`` returns), else ``compute()``."""
        if not self.enabled:
            return compute()
        # a key made beforehand from files' listed ids comes with those files (see ``digests.unchecked_ids``)
        unchecked = unchecked or []
        if callable(key):
            key, unchecked = digests.unchecked_ids(key)
        if key in self._known:
            value = self._known[key]
        else:
            doubts = digests.doubts()
            value = compute()
            # a key names a file by the id the listing gave it: the value is that content's only
            # when the file has not changed since (see digests), nor any value it was made from
            if digests.doubts() != doubts or digests.changed_since_listing(unchecked):
                digests.doubt()
                return value
            self._known[key] = value  # remembered from now on
            self._changed = True
        self._used[key] = value
        return value

    def knows(self, key: str) -> bool:
        """Whether ``get(key, ...)`` would answer without computing."""
        return self.enabled and key in self._known

    def save(self) -> None:
        """Keep exactly the entries used since loading (nothing is written when nothing changed)."""
        if not self.enabled or not (self._changed or len(self._used) != len(self._known)):
            return
        try:
            # only into an existing state folder (``<state>/memo/<name>.json``): a T4 run creates it,
            # while reading a repository as a library (a scaffolding dry run) must write nothing
            self.store.parent.mkdir(exist_ok=True)
            atomic.write_bytes(self.store, orjson.dumps({"code": self.code, "entries": self._used}), state_only=True)
        except OSError:
            pass  # a read-only checkout: a memo is an optimisation, never a requirement


@functools.lru_cache(maxsize=1)
def code_id() -> str:
    """One id for T4's own code and data files: a result remembered by another T4 is not used."""
    package = Path(__file__).parents[1]
    files = sorted([*package.glob("**/*.py"), *package.glob("**/schema/*.json")])
    return key(__version__, *((p.relative_to(package).as_posix(), sha256_of(p)) for p in files))


def key(*parts: object) -> str:
    """A short key for JSON-serialisable parts (names, settings, file digests)."""
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def file_part(root: Path, relpath: str | None) -> str:
    """The content id of ``root/relpath`` for a key, or ``ABSENT``."""
    if not relpath:
        return ABSENT
    return digests.content_ids(root, (relpath,))[0] or ABSENT


def file_parts(root: Path, relpaths: list[str]) -> list[str]:
    """``file_part`` of each path, in bulk."""
    return [found or ABSENT for found in digests.content_ids(root, relpaths)]
