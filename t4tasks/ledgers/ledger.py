"""Append-only NDJSON ledgers: the one library every T4 writer and reader goes through."""
# A ledger is the audit trail users commit, so it is never rewritten: each entry is one line, added
# in a single ``os.write`` on an ``O_APPEND`` descriptor under an exclusive lock, then fsynced. A
# writer killed mid-write can leave at most one torn last line; readers report it (file and line)
# and go on, and the next append starts on a fresh line. Each T4 entry carries ``prev``, the sha256
# of the line before it, so a hand edit or a deleted line shows up in ``verify_chain``.
#
# This module owns the envelope's field names; ``records`` owns the kinds, their value fields and
# the older spellings of real data (``timestamp``, ``coverage_pct``, no ``kind``), read here.

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from t4tasks.speed import atomic

from t4tasks import __version__
from t4tasks.ledgers import records
from t4tasks.problems import Problem

SCHEMA_ID = "t4.ledger/1"

SCHEMA = "schema"
KIND = "kind"
MODULE = "module"
TS = "ts"
TOOL = "tool"
GIT_COMMIT = "git_commit"
INPUT_DIGEST = "input_digest"
PREV = "prev"
COVERAGE = "coverage"
LINE = "_line"  # added by the reader: 1-based line number of the entry in its file

ENVELOPE = (SCHEMA, KIND, MODULE, TS, TOOL, GIT_COMMIT, INPUT_DIGEST, PREV)

MANIFEST_EDIT = records.MANIFEST_EDIT

# filelock's default poll interval is far longer than an append holds the lock (see
# docs/PERFORMANCE.md).
_LOCK_POLL_SECONDS = 0.001
_BLOCK = 1 << 16


def utc_now() -> datetime:
    """The current time, always timezone-aware UTC."""
    return datetime.now(timezone.utc)


def format_ts(dt: datetime, field: str = TS) -> str:
    """ISO 8601 in UTC with microseconds and ``+00:00``: one spelling, so strings sort by time."""
    # refused rather than guessed: local time read as UTC silently shifts trends
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{field}: naive datetime {dt.isoformat()} has no UTC offset")
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_ts(s: Any, field: str = TS) -> datetime:
    """Parse ISO 8601 with an offset (``Z`` or ``+00:00``) into an aware UTC datetime."""
    if not isinstance(s, str):
        raise ValueError(f"{field}: missing, or not an ISO 8601 string")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{field}: unparseable timestamp {s!r}") from None
    if dt.tzinfo is None:
        raise ValueError(f"{field}: naive timestamp {s!r} has no UTC offset")
    return dt.astimezone(timezone.utc)


def git_head(root: Path | str) -> str | None:
    """The HEAD commit of the git work tree at ``root``; None outside git or with no commit yet."""
    # Entries record it so a measurement can be traced to the code it measured.
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=root, capture_output=True, text=True, check=False,
        )
    except (FileNotFoundError, NotADirectoryError):  # no git installed, or no such folder
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def new_record(
    kind: str,
    module: str,
    values: Mapping[str, Any],
    input_digest: str,
    *,
    ts: datetime | None = None,
    git_commit: str | None = None,
) -> dict[str, Any]:
    """One ledger entry: the envelope every entry carries, with ``values`` at top level."""
    clash = sorted(set(values) & set(ENVELOPE))
    if clash:
        raise ValueError(f"{clash[0]}: reserved ledger field cannot be a value")
    return {
        **values,
        SCHEMA: SCHEMA_ID,
        KIND: kind,
        MODULE: module,
        TS: format_ts(ts if ts is not None else utc_now()),
        TOOL: f"t4tasks {__version__}",
        GIT_COMMIT: git_commit,
        INPUT_DIGEST: input_digest,  # what was measured: ``append`` skips a rerun's duplicate by it
    }


def append(path: Path | str, record: Mapping[str, Any]) -> bool:
    """Append ``record`` as one line; return False, writing nothing, when the run changed nothing."""
    path = Path(path)
    line = _checked(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    _ignore_locks(path.parent)
    from filelock import FileLock  # writers only: a read-only run must not pay the import

    # Everything from reading the tail to fsync happens under the lock, so concurrent writers keep
    # the chain intact.
    with FileLock(f"{path}.lock").acquire(poll_interval=_LOCK_POLL_SECONDS):
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            previous = _latest_entry(fd, path, line[KIND], line[MODULE])
            # nothing changed: the latest entry of this (kind, module) has the same
            # ``input_digest`` and observed the same values (``records.same_values``)
            if (previous is not None and previous.get(INPUT_DIGEST) == line[INPUT_DIGEST]
                    and records.same_values(line[KIND], previous, line)):
                return False
            lines = _reverse_lines(fd)
            torn = next(lines)  # bytes after the last newline: empty unless a writer was killed
            # the chain links whole records only: a torn or malformed line is skipped, so removing
            # it later leaves the chain intact
            whole = next((raw for raw in lines if isinstance(_loads(raw), dict)), None)
            line[PREV] = _line_hash(whole) if whole is not None else None
            encoded = orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n"
            data = b"\n" + encoded if torn else encoded
            if os.write(fd, data) != len(data):
                raise OSError(f"{path}: short write while appending a ledger entry")
            os.fsync(fd)
        finally:
            os.close(fd)
            atomic.written(path)
    return True


def _ignore_locks(folder: Path) -> None:
    """Ledgers are committed, their lock files are not: keep a ``.gitignore`` beside them."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        folder.mkdir(parents=True, exist_ok=True)
        atomic.write_text(ignore, "*.lock\n")


def read(path: Path | str, problems: list[Problem] | None = None) -> Iterator[dict[str, Any]]:
    """Stream the entries of a ledger, normalised, each with its line number in ``_line``."""
    entries, skipped = _parsed(Path(path))
    # a torn or malformed line is skipped and reported, so one bad line never hides the rest of the history
    if problems is not None:
        problems.extend(skipped)
    for entry in entries:
        yield dict(entry)  # a fresh dict the caller may change


# One run reads a ledger several times (META, gates, ledger check, trends): parse it once per
# version of the file. Keyed by stat, so an append in between is seen.
_PARSED: dict[tuple, tuple[tuple[dict[str, Any], ...], tuple[Problem, ...]]] = {}


def _stat_key(path: Path) -> tuple:
    st = os.stat(path)
    # the spelling is part of the key: problems name the file as the caller did
    return ((os.path.abspath(path), str(path)), st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def version(path: Path | str) -> tuple:
    """Which version of a ledger file this is (its stat), or only its path when it is missing."""
    # The key of results made from it, recomputed after an append.
    try:
        return _stat_key(Path(path))
    except FileNotFoundError:
        return (os.path.abspath(path),)


def preload(path: Path | str) -> None:
    """Parse a ledger and check its chain now, in this process, so that forked children inherit both."""
    # META, the gates, the ledger check and trends each read it, and parsing and chaining a long
    # ledger is not free (see docs/PERFORMANCE.md).
    path = Path(path)
    if path.exists():
        _parsed(path)
        verify_chain(path)


def _parsed(path: Path) -> tuple[tuple[dict[str, Any], ...], tuple[Problem, ...]]:
    key = _stat_key(path)
    known = _PARSED.get(key)
    if known is not None:
        return known
    default_kind = _file_kind(path)
    entries: list[dict[str, Any]] = []
    skipped: list[Problem] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                entry = _parse(raw, default_kind)
            except ValueError as exc:
                skipped.append(Problem(str(path), f"skipped ledger line: {exc}", number))
                continue
            entry[LINE] = number
            entries.append(entry)
    result = (tuple(entries), tuple(skipped))
    _remember(_PARSED, key, result)
    return result


_MEMO_LOCK = threading.Lock()   # doit's worker threads read ledgers at the same time


def _remember(memo: dict[tuple, Any], key: tuple, value: Any, keep: int = 8) -> None:
    """Store ``value`` as the one remembered version of the file ``key[0]``."""
    with _MEMO_LOCK:
        # older versions of it are dropped, and so are the oldest files past ``keep``: memory stays
        # flat in long processes
        for old in [k for k in memo if k[0] == key[0]]:
            del memo[old]
        while len(memo) >= keep:
            del memo[next(iter(memo))]
        memo[key] = value


def latest(
    path: Path | str, kind: str | None = None, problems: list[Problem] | None = None
) -> dict[str, dict[str, Any]]:
    """The latest entry per module (the last line wins), optionally of one kind only."""
    return {
        entry[MODULE]: entry
        for entry in read(path, problems)
        if kind is None or entry[KIND] == kind
    }


def by_module(path: Path | str, problems: list[Problem] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every entry of a ledger grouped by module, oldest first; an absent ledger is empty."""
    per_module: dict[str, list[dict[str, Any]]] = {}
    if Path(path).exists():
        for entry in read(path, problems):
            per_module.setdefault(entry[MODULE], []).append(entry)
    return per_module


_CHAINS: dict[tuple, tuple[Problem, ...]] = {}


def verify_chain(path: Path | str) -> list[Problem]:
    """Report every T4 entry whose ``prev`` does not match the line before it."""
    path = Path(path)
    key = _stat_key(path)
    if key in _CHAINS:
        return list(_CHAINS[key])
    problems: list[Problem] = []
    previous: bytes | None = None
    previous_number = 0
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        entry = _loads(raw)
        # older entries (no ``schema``) carry no ``prev`` and are not checked
        if isinstance(entry, dict) and SCHEMA in entry:
            expected = _line_hash(previous) if previous is not None else None
            if entry.get(PREV) != expected:
                if previous is None:
                    problems.append(Problem(str(path), "prev is set but no line precedes it: "
                                                       "earlier lines were deleted", number))
                else:
                    # reported on the line before the entry: that line was edited, or a line after it
                    # was deleted or inserted
                    problems.append(Problem(str(path), f"hash chain broken: line {number}'s prev "
                                            "does not match this line (it was edited, or a line "
                                            "after it was deleted or inserted)", previous_number))
        # torn and malformed lines are ``read``'s to report (once), and are no link of the chain
        if isinstance(entry, dict):
            previous, previous_number = raw, number
    _remember(_CHAINS, key, tuple(problems))
    return problems


def _checked(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` ready to write, or ValueError naming the first bad field."""
    for field in (SCHEMA, KIND, MODULE, INPUT_DIGEST):
        if not isinstance(record.get(field), str) or not record[field]:
            raise ValueError(f"{field}: missing or not a non-empty string")
    if record[SCHEMA] != SCHEMA_ID:
        raise ValueError(f"{SCHEMA}: {record[SCHEMA]!r} is not {SCHEMA_ID!r}")
    # datetimes become canonical UTC strings; naive ones, and a naive ``ts`` string, are refused
    line = {k: format_ts(v, k) if isinstance(v, datetime) else v for k, v in record.items()}
    line[TS] = format_ts(parse_ts(line.get(TS)))
    return line


def _latest_entry(fd: int, path: Path, kind: str, module: str) -> dict[str, Any] | None:
    """The latest whole entry with this (kind, module), read from the end."""
    needle = orjson.dumps(module) if module.isascii() else b""  # a non-ASCII name may be escaped: parse all
    default_kind = _file_kind(path)
    for raw in _reverse_lines(fd):
        # only lines holding the JSON-quoted module name are parsed: an append reads a few lines
        # of a long ledger, not all of it
        if needle in raw:
            try:
                entry = _parse(raw, default_kind)
            except ValueError:
                continue
            if entry[KIND] == kind and entry[MODULE] == module:
                return entry
    return None


def _reverse_lines(fd: int) -> Iterator[bytes]:
    """The file's lines last first, without newlines, read in blocks from the end."""
    # The first item is what follows the last newline: empty for a whole file (or an empty one),
    # the torn fragment otherwise.
    pos = os.fstat(fd).st_size
    head = b""
    while pos > 0:
        step = min(_BLOCK, pos)
        pos -= step
        lines = (os.pread(fd, step, pos) + head).split(b"\n")
        head = lines.pop(0)
        yield from reversed(lines)
    yield head


def _parse(raw: bytes, default_kind: str) -> dict[str, Any]:
    """One normalised entry from one line, or ValueError saying what is wrong with the line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        entry = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"torn or invalid JSON ({exc.msg})") from None
    if not isinstance(entry, dict):
        raise ValueError(f"not a JSON object but {type(entry).__name__}")
    if not isinstance(entry.get(MODULE), str) or not entry[MODULE]:
        raise ValueError(f"{MODULE}: missing or not a non-empty string")
    for old, new in records.ALIASES.items():
        if old in entry and new not in entry:
            entry[new] = entry[old]
    entry[TS] = format_ts(parse_ts(entry.get(TS)))
    entry.setdefault(KIND, default_kind)
    wrong = records.wrong_type(entry[KIND], entry)
    if wrong is not None:
        raise ValueError(f"wrong type: {wrong}")
    return entry


def _loads(raw: bytes) -> Any:
    """The JSON value of one line, or None when it is not valid JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _line_hash(raw: bytes) -> str:
    """The chain link: sha256 of a line's bytes without its newline."""
    return hashlib.sha256(raw).hexdigest()


def _file_kind(path: Path) -> str:
    """The kind of entries that predate the ``kind`` field, from the ledger's file name."""
    return records.file_kind(path.name)
