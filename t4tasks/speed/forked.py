"""Work done meanwhile in a forked copy of this process: the second core of a CI machine."""
# ``start(compute)`` forks a child that computes and sends its result back pickled, while this
# process does the other half; ``result()`` returns it. The child shares everything loaded so far
# (copy-on-write) and writes nothing T4 reads back but a memo under the state folder (results keyed
# by their inputs' content, right in any process). Used as a context manager, the child is stopped
# when the ``with`` block fails. The stats the child took of files (see ``digests``) come back with
# its result, so this process does not take them again. A large run spends seconds in pure-Python
# work that splits into independent parts (validate's checks, the two documentation maps, META
# while summaries and docmap are written; see docs/PERFORMANCE.md).
#
# Where forking is unsafe or impossible, or asked not to (``T4_SERIAL=1``), and when the child dies
# or its result cannot be read, ``result()`` computes in this process instead: the outcome is the
# same, only slower. A failure inside ``compute`` is therefore raised here, by the second try.

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from t4tasks.speed import digests

T = TypeVar("T")

SERIAL_ENV = "T4_SERIAL"


# children started and not yet asked for their result: stopped when a T4 run ends (``reaping``)
_live: set["Forked"] = set()


class Forked(Generic[T]):
    def __init__(self, compute: Callable[[], T], pid: int | None = None, pipe: int | None = None,
                 across_tasks: bool = False):
        self.compute, self.pid, self.pipe = compute, pid, pipe
        self.memory = digests.memory()
        self.across_tasks = across_tasks
        self._done: tuple[T] | None = None

    def result(self) -> T:
        """The child's result; computed here when there is no child or it gave none."""
        # Later calls return the same value.
        if self._done is None:
            self._done = (self._result(),)
        return self._done[0]

    def _result(self) -> T:
        if self.pid is not None:
            with os.fdopen(self.pipe, "rb") as pipe:
                data = pipe.read()
            status = self._reap()
            if status == 0:
                try:
                    result, learned = pickle.loads(data)
                except (pickle.UnpicklingError, EOFError, ValueError):
                    pass
                else:
                    digests.learn(learned, self.memory, self.across_tasks)
                    return result
        return self.compute()

    def __enter__(self) -> "Forked[T]":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            self.cancel()  # this process failed or was interrupted: it will not ask for the result

    def cancel(self) -> None:
        """Stop the child (this process is failing or interrupted and will not ask for it)."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            self._reap()
            os.close(self.pipe)

    def _reap(self) -> int:
        """Wait for the child to end; it is no longer live. Its exit status."""
        _, status = os.waitpid(self.pid, 0)
        _live.discard(self)
        self.pid = None
        return status


def start(compute: Callable[[], T], across_tasks: bool = False) -> Forked[T]:
    """Run ``compute`` in a forked child, unless forking is unavailable, unsafe or turned off."""
    # No ``fork`` on Windows; other threads running (a child would inherit the locks they hold); ``T4_SERIAL`` set.
    if not hasattr(os, "fork") or threading.active_count() > 1 or os.environ.get(SERIAL_ENV):
        return Forked(compute, across_tasks=across_tasks)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            # a result begun by one task for another is used ``across_tasks`` (see ``digests.learn``)
            # and sends the stats it inherited too: the parent has since
            # begun a new task's memory, and they say which content the result was made from
            before = set() if across_tasks else digests.known()
            result = compute()
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump((result, digests.learned_since(before)), pipe)
            code = 0
        finally:
            os._exit(code)  # never the parent's exit handlers, output buffers or doit's state
    os.close(write_end)
    child = Forked(compute, pid, read_end, across_tasks)
    _live.add(child)
    return child


@contextlib.contextmanager
def reaping() -> Iterator[None]:
    """Stop, when the block ends, every child started in it that nobody asked for."""
    # Such as META begun for a run that turned out not to need it: no child outlives a T4 run.
    try:
        yield
    finally:
        for child in list(_live):
            child.cancel()
