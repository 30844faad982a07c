"""Builders for hostile repositories: a good module to keep measuring, and bad inputs beside it."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import make_repo, manifest

GOOD_CODE = "def double(x):\n    return 2 * x\n"
GOOD_TEST = "from good import double\n\n\ndef test_double():\n    assert double(2) == 4\n"


def good_repo(root: Path, modules: dict | None = None, files: dict | None = None, pyproject: str | None = None) -> Path:
    """A repository with one healthy module ``good`` (code and a passing test) plus ``modules``."""
    return make_repo(root, {"good": manifest("good"), **(modules or {})},
                     {"good/__init__.py": GOOD_CODE, "good/tests/test_good.py": GOOD_TEST, **(files or {})},
                     pyproject=pyproject)


def snapshot(folder: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every entry under ``folder`` (links not followed) with its kind, size, mtime and content,
    except those inside ``skip``: compared before and after, it shows what a run touched."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        if skip is not None and Path(dirpath).resolve().is_relative_to(skip.resolve()):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                found[str(path)] = ("link", os.readlink(path))
            elif path.is_file():
                stat = path.stat()
                found[str(path)] = ("file", stat.st_size, stat.st_mtime_ns, path.read_bytes())
            else:
                found[str(path)] = ("dir",)
    return found


def lines_naming(text: str, needle: str) -> list[str]:
    """The lines of ``text`` that mention ``needle``."""
    return [line for line in text.splitlines() if needle in line]
