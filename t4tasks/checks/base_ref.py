"""A pull request's base in git: the verified commit, files as they were there, the lines added since."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


class RefError(Exception):
    """The ref does not name a commit, or git failed."""


def _git(root: Path, *args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(root), "-c", "core.quotepath=off", *args], capture_output=True)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RefError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def verify(root: Path, ref: str, option: str = "--base") -> str:
    """The commit id ``ref`` names; RefError (one line) when it names none."""
    if not ref:
        raise RefError(f"{option}: a git ref is required")
    try:
        # --end-of-options: a ref is never read as an option (``--output=FILE`` would write FILE)
        return _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").decode().strip()
    except RefError:
        raise RefError(f"{option} {ref}: not a commit in {root}") from None


def show(root: Path, commit: str, relpath: str) -> bytes | None:
    """The bytes of ``relpath`` at ``commit`` (read from git, no checkout); None when absent."""
    done = subprocess.run(["git", "-C", str(root), "cat-file", "blob", f"{commit}:{relpath}"], capture_output=True)
    return done.stdout if done.returncode == 0 else None


_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def added_lines(root: Path, commit: str) -> dict[str, set[int]]:
    """The lines of each file added or changed since the merge base of ``commit`` and HEAD."""
    base = _git(root, "merge-base", commit, "HEAD").decode().strip()
    # the working tree as it is: committed, staged and unstaged
    diff = _git(root, "diff", "-U0", "--no-color", "--no-ext-diff", "--no-renames", base, "--")
    found: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in diff.split(b"\n"):
        if line.startswith(b"+++ "):
            name = line[4:].decode("utf-8", "surrogateescape")
            current = None if name == "/dev/null" else found.setdefault(name.removeprefix("b/"), set())
        elif current is not None and (match := _HUNK.match(line)):
            start, count = int(match.group(1)), int(match.group(2) or 1)
            current.update(range(start, start + count))
    # an untracked file counts whole
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard")
    for name in filter(None, untracked.decode("utf-8", "surrogateescape").split("\0")):
        try:
            count = len((Path(root) / name).read_bytes().splitlines())
        except OSError:
            continue
        found[name] = set(range(1, count + 1))
    return {name: lines for name, lines in found.items() if lines}
