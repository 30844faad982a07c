"""File content digests (sha256), remembered across runs, and free for files git says are clean."""
# Content decides what is stale, but reading every input file on every run would cost more than the
# run itself on a large repository (and after a fresh clone, when every mtime is new, doit's own
# checker re-reads every dependency on every run, because it only saves state for tasks that ran).
# Two memories avoid the reading:
#
# * by file: (mtime, size, inode) → sha256 and git blob id (both from one read). Like git's index,
#   an entry whose mtime is within a few seconds of the moment it was recorded is not trusted later
#   ("racily clean": the file could change again within the same clock tick).
# * by git blob: the listing gives the blob id of every tracked file whose content equals the index
#   (``git ls-files --stage`` minus ``--modified``). A blob id names content, so blob → sha256
#   holds in any clone: after a fresh clone with a restored state folder, no file is read. The blob
#   id is used only for a file whose ctime is older than the listing (a file changed since git
#   looked is read). Clean/smudge filters that rewrite content on checkout would make the work tree
#   bytes differ from the blob; the map is learned from the work tree, so it stays right on one
#   machine.
#
# Both live in one JSON file under the state folder, loaded on the first digest that needs it: an
# up-to-date run whose files all kept their mtimes never loads it. Nor does a run that needs the
# digests of a few files only (a changed manifest, the registry T4 has just rewritten, the files of
# the module that changed): up to ``READ_FILES`` files and ``READ_BYTES`` bytes are read instead,
# because loading and saving the store costs as much as reading that many (see
# docs/PERFORMANCE.md).
#
# Memo keys and task settings name files by a content id: the git blob id, which the listing gives
# for a clean tracked file and which is computed as git would for any other, so that committing or
# staging a file changes no id. A run judges the listing: within a run, the content id of a file
# git lists as clean (and T4 has not written since) is its blob id, without a ``stat``. A file
# edited after git looked keeps its listed id for the rest of the run, as if edited just after the
# run; the next run lists it as modified. What must not happen is a remembered result made from the
# new content under the old id: ``Memo.get`` checks the files of a key it has to compute (a
# ``stat`` each, for the few keys that miss) and remembers nothing made from a file changed since
# the listing (``unchecked_ids``, ``doubt``). Memo keys and the content digests that tasks declare
# in their settings name every module's files; git has just compared each with its index, in C, and
# a ``stat`` each again costs more.
#
# What is kept of a file is forgotten when T4 writes it, and all of it when a task ends
# (``forget``, called by T4's reporter): a file is assumed unchanged only for the span of one task,
# the span in which doit itself assumes it. (The checker's own stats, taken to decide whether a
# task is stale, are not kept: an up-to-date run would pay for keeping 100,000 of them and use
# none.) A forked child (see ``forked``) sends back the stats it took (``learned_since``), and this
# process takes them in (``learn``) unless it wrote the file meanwhile: doit records a task's state
# from the stats its work took in a child. Within a T4 run (``run_scope``) a file's stat and sha256
# are also kept in memory, so the memo keys of the five tasks that rebuild at once after a change
# cost a dict lookup, not a ``stat`` each, and doit's checker records a finished task's state from
# the same stats (see docs/PERFORMANCE.md).

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

import orjson

from t4tasks.speed import atomic

T = TypeVar("T")

RACY_SECONDS = 3.0
# A file whose ctime is this close to the listing could have changed after git looked at it: it is
# read. File clocks lag the system clock by at most a tick (a few ms) where they count fractions
# of a second; where a ctime is a whole second (filesystems that count seconds) it may be up to
# a second behind, so such files need a wider margin. A small margin matters: right after a
# checkout most files are young, and a young file keys memos by its sha256, not its blob id.
GIT_MARGIN_SECONDS = 0.05
COARSE_MARGIN_SECONDS = 2.0
# what a process reads before it loads the store (see the comments atop the module)
READ_FILES = 256
READ_BYTES = 32 * 1024 * 1024


def sha256_of(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def id_of(data: bytes) -> str:
    """The content id (see ``content_id``) a file holding ``data`` has."""
    blob = hashlib.sha1(b"blob %d\0" % len(data))
    blob.update(data)
    return f"git:{blob.hexdigest()}"


def hashes_of(path: str | os.PathLike) -> tuple[str, str]:
    """The sha256 of a file and its git blob id (what ``git hash-object`` says), in one read."""
    with open(path, "rb") as handle:
        sha256 = hashlib.sha256()
        blob = hashlib.sha1(b"blob %d\0" % os.fstat(handle.fileno()).st_size)
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()


class Stat(NamedTuple):
    """What a digest needs of a stat, named as ``os.stat_result`` names it."""
    # A run keeps one per file it reads: much less memory than a full ``stat_result`` (see docs/PERFORMANCE.md).

    st_mtime_ns: int
    st_size: int
    st_ino: int
    st_ctime_ns: int


class RunMemory:
    """What one run knows of files, by path."""
    # Flat dicts of immutable values, nothing the cyclic garbage collector has to traverse.

    def __init__(self, written: set[str] | None = None) -> None:
        self.stats: dict[str, Stat] = {}
        self.shas: dict[str, str] = {}
        self.ids: dict[str, str] = {}  # content ids: each stage's memo keys ask for them again
        # what T4 wrote since the run began, in earlier tasks too (kept by the next task's memory)
        self.written: set[str] = set() if written is None else written


class Learned(NamedTuple):
    """The stats a process took in a span of one run, flat."""
    # A forked child pickles them much faster as plain lists than as ``Stat`` tuples (see
    # docs/PERFORMANCE.md).

    paths: list[str]
    numbers: list[int]  # the four fields of each path's Stat, in order


class DigestCache:
    """``digest(path)`` with memory for the run and, when ``store`` is set, across runs."""

    def __init__(self, store: Path | None = None):
        self.store = store
        self._lock = threading.Lock()
        self._loaded = store is None
        self._files: dict[str, list] = {}
        self._blobs: dict[str, str] = {}
        self._dirty = False
        # absolute root + "/" → (relative path → blob id of a clean tracked file, when listed)
        self._git: dict[str, tuple[dict[str, str], float]] = {}
        self.run: RunMemory | None = None  # inside a run scope (see the comments atop the module)
        self._reads_left = (READ_FILES, READ_BYTES)  # before the store is loaded

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            try:
                data = orjson.loads(self.store.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                data = {}  # a missing or torn cache only costs re-reading files
            if isinstance(data, dict) and isinstance(data.get("files"), dict):
                self._files = data["files"]
                self._blobs = data.get("blobs") or {}
            self._loaded = True

    def use_git(self, root: Path, clean_blobs: dict[str, str], listed_at: float) -> None:
        """Blob ids of ``root``'s clean tracked files, as listed at ``listed_at`` (epoch seconds)."""
        self._git[str(root).rstrip("/") + "/"] = (clean_blobs, listed_at)

    def _blob_of(self, path: str, stat: os.stat_result | Stat) -> str | None:
        for prefix, (blobs, listed_at) in self._git.items():
            if path.startswith(prefix):
                blob = blobs.get(path[len(prefix):])
                if blob is None:
                    return None
                margin = COARSE_MARGIN_SECONDS if stat.st_ctime_ns % 1_000_000_000 == 0 else GIT_MARGIN_SECONDS
                return blob if stat.st_ctime_ns / 1e9 < listed_at - margin else None
        return None

    def changed_since_listing(self, paths: list[str]) -> bool:
        """Whether any of ``paths``, keyed by the blob id the listing gave it, may hold other content now."""
        for path in paths:
            try:
                stat = os.stat(path)
            except OSError:
                return True  # gone
            # its ctime is not older than the listing (see ``_blob_of``)
            if self._blob_of(path, stat) is None:
                return True
        return False

    def _stat(self, path: str) -> os.stat_result | Stat:
        """A stat of ``path``: the run's (see the comments atop the module), or a fresh one."""
        run = self.run
        if run is None:
            return os.stat(path)
        stat = run.stats.get(path)
        if stat is None:
            found = os.stat(path)
            stat = run.stats[path] = Stat(found.st_mtime_ns, found.st_size, found.st_ino, found.st_ctime_ns)
        return stat

    def digest(self, path: str, stat: os.stat_result | Stat | None = None) -> str:
        run = self.run
        if stat is not None or run is None:
            return self._digest(path, stat or os.stat(path))
        found = run.shas.get(path)
        if found is None:
            found = run.shas[path] = self._digest(path, self._stat(path))
        return found

    def _digest(self, path: str, stat: os.stat_result | Stat) -> str:
        key = path if os.path.isabs(path) else os.path.abspath(path)
        if not self._spare_store(stat):
            return hashes_of(path)[0]
        blob = self._blob_of(key, stat) if self._git else None
        if blob is not None and blob in self._blobs:
            return self._blobs[blob]
        known = self._known(key, stat)
        digest = known[3] if known else self._read(path, key, stat)[0]
        if blob is not None and self._blobs.get(blob) != digest:
            with self._lock:
                self._blobs[blob] = digest
                self._dirty = True
        return digest

    def _object_id(self, path: str, stat: os.stat_result | Stat) -> str:
        """The git blob id of the file's content now, for a file the listing does not vouch for."""
        key = path if os.path.isabs(path) else os.path.abspath(path)
        if not self._spare_store(stat):
            return hashes_of(path)[1]
        # remembered in the store by (mtime, size, inode) like the sha256
        known = self._known(key, stat)
        return known[5] if known and len(known) > 5 else self._read(path, key, stat)[1]

    def _spare_store(self, stat: os.stat_result | Stat) -> bool:
        """Load the store and return True, or False when this process may still read the file instead."""
        # See the comments atop the module.
        if self._loaded:
            return True
        files, size = self._reads_left
        if files and stat.st_size <= size:
            self._reads_left = (files - 1, size - stat.st_size)
            return False
        self._load()
        return True

    def _known(self, key: str, stat: os.stat_result | Stat) -> list | None:
        """The store's entry for the file, when this stat says it still holds."""
        known = self._files.get(key)
        # same mtime, size and inode, and recorded more than ``RACY_SECONDS`` after that mtime
        if (known and known[:3] == [stat.st_mtime_ns, stat.st_size, stat.st_ino]
                and known[4] - stat.st_mtime_ns / 1e9 > RACY_SECONDS):
            return known
        return None

    def _read(self, path: str, key: str, stat: os.stat_result | Stat) -> tuple[str, str]:
        """Read the file: its sha256 and blob id, remembered in the store under this stat."""
        digest, blob = hashes_of(path)
        fingerprint = [stat.st_mtime_ns, stat.st_size, stat.st_ino]
        known = self._files.get(key)
        now = time.time()
        # a racy entry read again with the same content is saved only once it becomes
        # trustworthy: an up-to-date run must not rewrite the store for nothing
        if not (known and known[:4] == [*fingerprint, digest] and now - stat.st_mtime_ns / 1e9 <= RACY_SECONDS):
            with self._lock:
                self._files[key] = [*fingerprint, digest, now, blob]
                self._dirty = True
        return digest, blob

    def content_id(self, path: str) -> str:
        """An id of the content: its git blob id, from the listing or computed as git would."""
        # The same content keeps its id whether the file is edited, staged or committed, so a
        # commit changes no memo key and no task's setting.
        run = self.run
        if run is not None:
            found = run.ids.get(path)
            if found is None:
                found = run.ids[path] = self._content_id(path)
            return found
        return self._content_id(path)

    def _content_id(self, path: str) -> str:
        stat = self._stat(path)
        key = path if os.path.isabs(path) else os.path.abspath(path)
        # from the listing for a clean tracked file: no read, and no loading of the store (within a
        # run, the module's ``content_ids`` takes a clean file's id from the listing before it asks)
        blob = self._blob_of(key, stat) if self._git else None
        return f"git:{blob if blob is not None else self._object_id(path, stat)}"

    def save(self) -> None:
        if self.store is not None and self._dirty:
            with self._lock:
                data = orjson.dumps({"files": self._files, "blobs": self._blobs})
                self._dirty = False
            atomic.write_bytes(self.store, data, state_only=True)


_cache = DigestCache()


def use_store(store: Path) -> None:
    """Remember digests in ``store`` (T4 points it into its state folder) and save at exit."""
    global _cache
    if _cache.store != store:
        _cache.save()
        before = _cache
        _cache = DigestCache(store)
        # the listing and the run's memory belong to the run, not to the store
        _cache._git, _cache.run = before._git, before.run


def use_git(root: Path, clean_blobs: dict[str, str], listed_at: float) -> None:
    """Let digests of files under ``root`` come from their git blob ids (see the comments atop the module)."""
    _cache.use_git(root, clean_blobs, listed_at)


@contextlib.contextmanager
def run_scope() -> Iterator[None]:
    """Keep stats and sha256 digests in memory for the span of one T4 run (see the module comments)."""
    _cache.run = RunMemory()
    try:
        yield
    finally:
        _cache.run = None


def forget(path: str | os.PathLike | None = None) -> None:
    """``path`` changed (T4 wrote it), or, without a path, any file may have (a task ended)."""
    run = _cache.run
    if run is None:
        return
    if path is None:
        _cache.run = RunMemory(run.written)
        return
    path = os.path.abspath(path)
    # stat again when asked
    for known in (run.stats, run.shas, run.ids):
        known.pop(path, None)
    run.written.add(path)


def memory() -> RunMemory | None:
    """This run's memory (None outside a run): the token a forked child's ``learn`` is checked against."""
    return _cache.run


def known() -> set[str]:
    """The paths this process has a stat of now, for ``learned_since`` (taken by a forked child)."""
    run = _cache.run
    return set(run.stats) if run is not None else set()


def learned_since(before: set[str]) -> Learned:
    """The stats this process took after ``before``."""
    run = _cache.run
    fresh = [(path, stat) for path, stat in run.stats.items() if path not in before] if run is not None else []
    return Learned([path for path, _ in fresh], [n for _, stat in fresh for n in stat])


def learn(learned: Learned, during: RunMemory | None, across_tasks: bool = False) -> None:
    """Take in the stats a forked child took while ``during`` was this run's memory."""
    run = _cache.run
    # Nothing when a task has ended since (the memory was renewed), unless the child's result is
    # itself used ``across_tasks``: work begun for a later task, whose result is kept only while
    # the files a task could change outside T4's writes (the ledgers a measurement appends to) are
    # unchanged. Its stats then say which content that result was made from, the state doit should
    # record (an older stat at worst costs a rerun); only the files T4 wrote since are left out.
    if run is None or (run is not during and not across_tasks):
        return
    numbers = iter(learned.numbers)
    for path, stat in zip(learned.paths, map(Stat._make, zip(numbers, numbers, numbers, numbers))):
        # a file T4 wrote in this run keeps what this process knows, which is newer
        if path not in run.written:
            run.stats.setdefault(path, stat)


_unchecked = threading.local()  # .paths: where ``unchecked_ids`` collects, in this thread
_doubts = threading.local()     # .count: how many results this thread has not remembered


def unchecked_ids(compute: Callable[[], T]) -> tuple[T, list[str]]:
    """``compute()``, and the paths whose content id it took from the listing unchecked (for ``Memo.get``)."""
    # A plain call, not a context manager: it runs very often (see docs/PERFORMANCE.md).
    outer = getattr(_unchecked, "paths", None)
    _unchecked.paths = paths = []
    try:
        return compute(), paths
    finally:
        _unchecked.paths = outer
        if outer is not None:
            outer.extend(paths)


def content_ids(root: Path | str, relpaths: Iterable[str]) -> list[str | None]:
    """The content id of each file ``root/relpath``, None for one that cannot be read."""
    prefix = f"{root}{os.sep}"
    run = _cache.run
    listed = _cache._git.get(prefix) if run is not None else None
    blobs = listed[0] if listed is not None else {}
    written = run.written if run is not None else ()
    unchecked = getattr(_unchecked, "paths", None)
    found: list[str | None] = []
    for relpath in relpaths:
        blob = blobs.get(relpath)
        # as ``DigestCache.content_id``, but a file the listing holds as clean and T4 has not written
        # since keys as its listed blob id without a ``stat`` (see "A run judges the listing" in the
        # module comments), looked up by relative path: a dictionary lookup per file
        if blob is not None and (not written or prefix + relpath not in written):
            if unchecked is not None:
                unchecked.append(prefix + relpath)
            found.append(f"git:{blob}")
            continue
        try:
            found.append(_cache.content_id(prefix + relpath))
        except OSError:
            found.append(None)
    return found


def changed_since_listing(paths: list[str]) -> bool:
    return _cache.changed_since_listing(paths)


def doubts() -> int:
    """How many results this thread has declined to remember (``doubt``)."""
    # A result computed while the count grew is made from a doubted one: not remembered either.
    return getattr(_doubts, "count", 0)


def doubt() -> None:
    """A result was computed from files that may have changed since the listing."""
    # Do not remember it, nor any result made from it (see ``Memo.get``).
    _doubts.count = doubts() + 1


def stat(path: str) -> os.stat_result | Stat:
    """``os.stat(path)``, or the stat this run already took of it (see the comments atop the module)."""
    return _cache._stat(path)


def digest(path: str | os.PathLike, stat: os.stat_result | Stat | None = None) -> str:
    return _cache.digest(str(path), stat)


def content_id(path: str | os.PathLike) -> str:
    """``content_ids`` of one file, by its absolute path; OSError when it cannot be read."""
    path = str(path)
    for prefix in _cache._git:
        if path.startswith(prefix):
            found = content_ids(prefix[:-1], [path[len(prefix):]])[0]
            if found is None:
                raise FileNotFoundError(path)
            return found
    return _cache.content_id(path)


atexit.register(lambda: _cache.save())
atomic.on_write(forget)  # what T4 writes is stale in this run's memory
