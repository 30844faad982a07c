"""A pytest plugin that reports how far a measured session is: ``{"done": k, "total": n}``."""
# Loaded in the measured process with ``-p t4tasks.measure.session_progress``; it writes to the
# file named by ``T4_PROGRESS`` (at most twice a second) and does nothing when that is unset.

from __future__ import annotations

import json
import os
import time

ENV = "T4_PROGRESS"
ARGS = ("-p", __name__)  # what loads this plugin in a measured pytest
_EVERY = 0.5  # seconds between writes: a progress file, not a log
_state = {"done": 0, "total": 0, "written": 0.0}


def _write(force: bool = False) -> None:
    path = os.environ.get(ENV)
    now = time.monotonic()
    if not path or (not force and now - _state["written"] < _EVERY):
        return
    _state["written"] = now
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"done": _state["done"], "total": _state["total"]}, handle)
        os.replace(tmp, path)
    except OSError:
        pass  # a test removed the scratch folder: progress is a courtesy, never a failure


def pytest_collection_finish(session) -> None:
    _state["total"] = len(session.items)
    _write(force=True)


def pytest_runtest_logfinish(nodeid, location) -> None:
    _state["done"] += 1
    _write()


def read(path: str) -> tuple[int, int] | None:
    """``(done, total)`` from a progress file, or None when there is none yet."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return int(data["done"]), int(data["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
