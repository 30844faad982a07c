"""``t4tasks.speed.forked``: half of the work in a forked child, the same result whatever happens to it."""

from __future__ import annotations

import os
import time

import pytest

from t4tasks.speed import digests, forked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def test_the_result_is_computed_in_a_child():
    child = forked.start(os.getpid)
    assert child.pid is not None
    assert child.result() not in (os.getpid(), None)


def test_serial_computes_here(monkeypatch):
    monkeypatch.setenv(forked.SERIAL_ENV, "1")
    child = forked.start(os.getpid)
    assert child.pid is None
    assert child.result() == os.getpid()


def test_a_child_that_dies_is_replaced_by_computing_here():
    parent = os.getpid()

    def compute():
        if os.getpid() != parent:
            os._exit(3)  # a crash in the child: no result sent
        return "computed here"
    assert forked.start(compute).result() == "computed here"


def test_a_failure_inside_compute_is_raised_here():
    def compute():
        raise ValueError("a broken template")
    child = forked.start(compute)
    with pytest.raises(ValueError, match="a broken template"):
        child.result()


def test_cancel_kills_the_child():
    child = forked.start(lambda: time.sleep(60))
    pid = child.pid
    started = time.monotonic()
    child.cancel()
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # reaped: no zombie left behind


def test_a_failing_with_block_stops_the_child():
    with pytest.raises(KeyError):
        with forked.start(lambda: time.sleep(60)) as child:
            pid = child.pid
            raise KeyError("this process failed first")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)


def _stats_of_two_files(tmp_path):
    """Two files, and a ``compute`` that stats both (in a child) and returns its pid."""
    read, written = tmp_path / "read.py", tmp_path / "written.py"
    for path in (read, written):
        path.write_text("x = 1\n")

    def compute():
        digests.stat(str(read))
        digests.stat(str(written))
        return os.getpid()
    return read, written, compute


def test_the_stats_a_child_took_are_known_here_unless_this_process_wrote_the_file(tmp_path):
    # validate's checks stat 40,000 module files in a child; doit then records validate's state
    # here from the same stats instead of taking them again
    read, written, compute = _stats_of_two_files(tmp_path)
    with digests.run_scope():
        child = forked.start(compute)
        digests.forget(written)  # this process wrote it while the child ran
        assert child.result() != os.getpid()
        known = digests.memory().stats
        assert known[str(read)] == digests.Stat(*(getattr(os.stat(read), f) for f in digests.Stat._fields))
        assert str(written) not in known
        # once a task has ended (a new memory), nothing of an earlier child is taken in
        child = forked.start(compute)
        digests.forget()
        child.result()
        assert digests.memory().stats == {}


def test_a_child_begun_for_a_later_task_is_learned_from_except_files_written_since(tmp_path):
    # the registry task begins validate's checks of inputs; validate takes them in two tasks later
    read, written, compute = _stats_of_two_files(tmp_path)
    inherited = tmp_path / "module.manifest.json"
    inherited.write_text("{}\n")
    with digests.run_scope():
        digests.stat(str(inherited))  # taken here before the child began (loading the manifests)
        child = forked.start(compute, across_tasks=True)
        digests.forget(written)  # a task in between wrote it (say, the registry it belongs to)
        digests.forget()         # and ended
        digests.forget()         # and so did the next one
        assert child.result() != os.getpid()
        known = digests.memory().stats
        assert str(read) in known
        assert str(inherited) in known  # the child's memory began with it: it comes back too
        assert str(written) not in known


def test_result_is_the_same_value_on_every_call():
    # META begun in a child is asked for by the meta_registry task and by validate's META check
    parent, calls = os.getpid(), []

    def compute():
        calls.append(1)  # counted here only: a child's list is its own
        return os.getpid()
    child = forked.start(compute)
    assert child.result() == child.result() != parent
    assert calls == []
