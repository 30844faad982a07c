"""The one function that turns a path from data into a file path: inside its base, or refused."""
# Module names, manifest paths and configured output folders all become file paths somewhere; each
# goes through ``inside`` (symlinks resolved, ``..`` and absolute paths refused), so no value read
# from the repository can make T4 read, write or delete outside it.

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path


class UnsafePath(ValueError):
    """A path from data would leave its base folder."""


def inside(base: Path | str, relpath: str) -> Path:
    """``base / relpath``, or UnsafePath when it is absolute, uses '..' or resolves outside ``base``."""
    plain = relpath.replace("\\", "/")
    if (not relpath or "\0" in relpath or plain.startswith("/") or re.match(r"^[A-Za-z]:", plain)
            or ".." in plain.split("/") or posixpath.normpath(plain) != plain):
        raise UnsafePath(f"{relpath!r}: not a plain relative path inside the repository")
    # ``realpath`` follows symlinks of every existing component (dangling ones too), so a folder
    # symlinked to somewhere else cannot smuggle a read, write or delete out of ``base``
    real_base = os.path.realpath(base)
    real = os.path.realpath(os.path.join(base, relpath))
    if real != real_base and not real.startswith(real_base.rstrip(os.sep) + os.sep):
        raise UnsafePath(f"{relpath!r}: leaves the repository root (resolves to {real})")
    return Path(base) / relpath


def check_outputs(root: Path, folders: list[str]) -> str | None:
    """One line naming the first output folder that leaves ``root`` (a symlink to elsewhere)."""
    for folder in folders:
        try:
            inside(root, posixpath.normpath(folder))
        except UnsafePath as exc:
            return f"output folder {folder}: {exc}; refusing to write there (make it a real folder)"
    return None
