"""One shape for every problem T4 reports: ``path[:line]: message``."""
# Gates collect problems instead of raising on the first one, so one bad input never hides the
# others; each problem names the file (and line or JSON pointer when known) and what is wrong.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


def relative_to(problems: list[Problem], root: Path) -> list[Problem]:
    """Problems whose absolute file paths are made repo-relative."""
    # Reports must not depend on where the repository lives.
    prefix = str(root).rstrip("/") + "/"
    return [Problem(p.path[len(prefix):], p.message, p.line) if p.path.startswith(prefix) else p
            for p in problems]


def listed(items: Sequence[str], limit: int) -> str:
    """``items`` in one line of a report: the first ``limit``, then how many more."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
