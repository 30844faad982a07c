"""Atomic file writes: every file T4 writes goes through here."""
# A kill at any moment must leave either the old or the new file, never a torn one, so content is
# written to a temporary file in the same directory, flushed and fsynced, then ``os.replace``d.

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import orjson

# told of every file T4 writes (digests forgets what it remembered of it); set by the listeners
_LISTENERS: list[Callable[[Path], None]] = []


class SymlinkRefused(OSError):
    """The file to write is a symbolic link."""


def _read_umask() -> int:
    # read once at import: os.umask can only be read by setting it, which races with threads
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def write_bytes(path: Path | str, data: bytes, *, state_only: bool = False) -> bool:
    """Atomically replace ``path`` with ``data``; return False (and touch nothing) when unchanged."""
    path = Path(path)
    if os.path.islink(path):
        # replacing the link would detach the file from wherever the repository points it
        raise SymlinkRefused(f"{path}: a symbolic link; T4 never replaces a link with a file")
    # skipping identical content keeps mtimes stable, which keeps doit's checks cheap and makes "a
    # second run changes no file" literally true
    try:
        if path.read_bytes() == data:
            return False
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    # ``state_only``: T4's own state (a memo, the digest store), which no task reads as an input, so
    # what the run knows of the repository's files stays valid
    if not state_only:
        written(path)
    return True


def on_write(listener: Callable[[Path], None]) -> None:
    """Call ``listener(path)`` after each file T4 writes."""
    _LISTENERS.append(listener)


def written(path: Path | str) -> None:
    """``path`` changed under T4's hands: what the run remembered of it is stale."""
    for listener in _LISTENERS:
        listener(Path(path))


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; new files get the usual 0666 & ~umask."""
    # Mkstemp's 0600 would make committed artifacts unreadable to others.
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def write_text(path: Path | str, text: str) -> bool:
    """Atomically write UTF-8 text with ``\\n`` line endings."""
    return write_bytes(path, text.encode("utf-8"))


def dumps_json(data: Any) -> bytes:
    """Canonical JSON for derived artifacts: sorted keys, 2-space indent, trailing newline."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_json(path: Path | str, data: Any) -> bool:
    """Atomically write ``data`` as canonical JSON."""
    return write_bytes(path, dumps_json(data))
