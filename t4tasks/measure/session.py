"""The end of a measured pytest session: whether it was reached, and what the run imported."""

from __future__ import annotations

import os
from pathlib import Path

PLUGIN = "t4_session_end"
_RECORD = "session_end.txt"

# Loaded with ``-p``: pytest_unconfigure is the last hook of a session that ran to its end, so
# the file it writes is the proof (a test calling os._exit never gets here); the file lists every
# repository file in sys.modules, one repo-relative path a line.
_SOURCE = """\
import os
import sys

_ROOT = {root!r}
_OUT = {out!r}


def pytest_unconfigure(config):
    prefix = _ROOT + os.sep
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.startswith(prefix):
            found.add(path[len(prefix):].replace(os.sep, "/"))
    try:
        with open(_OUT, "w", encoding="utf-8") as out:
            out.write("\\n".join(sorted(found)))
    except OSError:
        pass  # the scratch folder is gone: T4 reports the run as crashed
"""


def install(folder: Path, root: Path) -> list[str]:
    """Write the plugin into ``folder`` (which must be on the child's PYTHONPATH); its pytest args."""
    (folder / f"{PLUGIN}.py").write_text(_SOURCE.format(root=str(Path(root).resolve()),
                                                        out=str(folder / _RECORD)), encoding="utf-8")
    return ["-p", PLUGIN]


def python_path(folder: Path, environment: dict[str, str]) -> str:
    """``folder`` first on a child's PYTHONPATH."""
    return os.pathsep.join(filter(None, [str(folder), environment.get("PYTHONPATH")]))


def imported(folder: Path) -> list[str] | None:
    """The repository files the session imported; None when it did not reach its end."""
    try:
        text = (folder / _RECORD).read_text(encoding="utf-8")
    except OSError:
        return None
    return [line for line in text.splitlines() if line]
