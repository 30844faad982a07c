"""The processes T4 starts to measure modules: each in a process group of its own, never orphaned."""
# A measurement runs a module's tests in a new session so that a timeout can kill everything the
# tests started (servers, workers). The flip side is that a signal sent to T4 no longer reaches
# them, and with ``-n`` they are waited for in doit's worker threads, which die with the
# interpreter without running any cleanup. So every live child is tracked here, and T4 kills their
# groups when it is interrupted (Ctrl-C, SIGTERM) or exits: no measurement outlives the run.

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

_LIVE: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
_CLOSED = threading.Event()   # set by kill_all: no new measurement may start after it


class Cancelled(RuntimeError):
    """T4 is being stopped: a worker thread asked to start a measurement after ``kill_all``."""


def check_open() -> None:
    """Raise ``Cancelled`` once ``kill_all`` has run."""
    if _CLOSED.is_set():
        raise Cancelled("T4 is stopping: no new measurement starts")


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process group led by ``process`` (just the process where groups don't exist)."""
    if hasattr(os, "killpg"):
        try:
            # the leader is not reaped yet, so its group exists even if every member has exited
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        process.kill()
    process.wait()


def _kill_leftovers(group: int) -> None:
    """SIGKILL what the finished run started and left running in its process group."""
    if hasattr(os, "killpg"):
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # nothing left: the usual case


_STOPS: list[Callable[[], None]] = []


def at_kill(stop: Callable[[], None]) -> None:
    """Also call ``stop`` in ``kill_all``: for helpers that own children of their own."""
    with _LOCK:
        _STOPS.append(stop)


def kill_all() -> None:
    """Kill every measurement still running (on interrupt, and when T4 exits)."""
    with _LOCK:
        _CLOSED.set()
        live = list(_LIVE)
        stops = list(_STOPS)
    for stop in stops:
        stop()
    for process in live:
        if process.poll() is None:
            kill_group(process)


atexit.register(kill_all)


TICK = 10.0  # seconds between calls of a run's ``tick`` while it waits


def run(command: list[str], *, cwd, env: dict[str, str], timeout: float,
        stdout: IO[bytes], stderr: IO[bytes] | int,
        tick: Callable[[float], None] | None = None) -> int | None:
    """Run ``command`` in its own process group; its exit code, or None when it timed out."""
    # output goes to files, not pipes: a chatty child cannot fill a pipe and block, and a leaked
    # grandchild holding a pipe open cannot make us wait past the timeout
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=stdout, stderr=stderr, start_new_session=hasattr(os, "killpg"))
    with _LOCK:
        closed = _CLOSED.is_set()  # kill_all ran between the check and the start: it missed this one
        if not closed:
            _LIVE.add(process)
    if closed:
        kill_group(process)
        raise Cancelled("T4 is stopping: no new measurement starts")
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                kill_group(process)
                return None
            try:  # ``tick(elapsed_seconds)`` every ``TICK`` seconds while the command runs
                code = process.wait(timeout=min(timeout - elapsed, TICK) if tick else timeout - elapsed)
            except subprocess.TimeoutExpired:
                if tick is not None:
                    tick(time.monotonic() - started)
                continue
            _kill_leftovers(process.pid)
            return code
    except BaseException:
        kill_group(process)
        raise
    finally:
        with _LOCK:
            _LIVE.discard(process)
