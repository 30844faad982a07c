"""A warm interpreter that forks one child per smoke run: ``python -m t4tasks.measure.smoke_server``."""
# Starting Python and importing pytest with the installed plugins is slow (see
# docs/PERFORMANCE.md), and a smoke run would pay it once per module. This server pays it once: it imports pytest and
# its plugins, then forks a child per request. Each child is a new process that imports the
# module's package for the first time (the server never imports a module's code), writes its output
# to a log file, runs the module's tests and exits with pytest's code.
#
# Its arguments are the pytest options the children will use (for the warm-up session). Protocol,
# one JSON object per line: T4 sends ``{"id", "import", "argv", "log"}``; the server answers
# ``{"id", "pid"}`` when the child started (so T4 can kill it on timeout) and ``{"id", "code"}``
# when it ended (negative: killed by that signal). The server is single-threaded (a fork copies
# only the calling thread, so no lock can be held in a child) and kills every child it started when
# T4 goes away (its stdin closes) or sends SIGTERM.

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import sys
import traceback

IMPORT_FAILED = 99   # the child's exit code when importing the package failed


def warm(argv: list[str]) -> None:
    """Run one empty pytest session with the children's options, output discarded."""
    # It imports pytest, every plugin and what plugins import late (some at the session's end) through
    # pytest's assertion-rewriting importer, as a child's session would: children neither pay for those
    # imports nor warn that a plugin was imported before it could be rewritten.
    import tempfile

    import pytest

    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        with tempfile.TemporaryDirectory(prefix="t4-smoke-warm-") as empty:
            pytest.main([*argv, f"--rootdir={empty}", "--collect-only", empty])
    except BaseException:  # a failing warm-up only costs time: each child reports for itself
        pass
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def run_child(request: dict) -> int:
    """Import the package (when named), then run pytest with ``argv`` (none: the import is the check)."""
    code = _run_child(request)
    # then the file ``request["done"]``: a run that never gets there (os._exit in the import or a
    # test) did not finish, whatever its exit code
    if request.get("done"):
        try:
            open(request["done"], "wb").close()
        except OSError:
            pass  # the run deleted T4's scratch folder: it is reported as crashed
    return code


def _run_child(request: dict) -> int:
    if request["import"]:
        try:
            importlib.import_module(request["import"])
        except BaseException:
            traceback.print_exc()
            return IMPORT_FAILED
    if not request["argv"]:
        return 0
    import pytest

    try:
        return int(pytest.main(request["argv"]))
    except BaseException:
        traceback.print_exc()
        return 1


def child(request: dict) -> None:
    """In the forked child: own process group, output to the log, never return."""
    code = 1
    try:
        os.setpgid(0, 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.stdin = open(0, closefd=False)
        code = run_child(request)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def send(message: dict) -> None:
    sys.stdout.buffer.write(json.dumps(message).encode() + b"\n")
    sys.stdout.buffer.flush()


def reap(children: dict[int, object]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        request_id = children.pop(pid, None)
        try:
            os.killpg(pid, signal.SIGKILL)  # whatever the run started and left running
        except (ProcessLookupError, PermissionError):
            pass
        if request_id is not None:
            send({"id": request_id, "code": os.waitstatus_to_exitcode(status)})


def kill_children(children: dict[int, object]) -> None:
    for pid in list(children):
        for kill in (os.killpg, os.kill):  # os.kill: a child that never got its group is still killed
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def serve(warm_argv: list[str]) -> None:
    warm(warm_argv)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)   # wakes select through the pipe
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stdin = sys.stdin.buffer.fileno()
    children: dict[int, object] = {}
    pending = b""
    try:
        while True:
            ready, _, _ = select.select([stdin, wake_read], [], [])
            if wake_read in ready:
                os.read(wake_read, 4096)
            reap(children)
            if stdin not in ready:
                continue
            data = os.read(stdin, 1 << 16)
            if not data:
                return  # T4 is gone: the finally below kills what it started
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    for signum in (signal.SIGCHLD, signal.SIGTERM):
                        signal.signal(signum, signal.SIG_DFL)
                    os.close(wake_read)
                    os.close(wake_write)
                    child(request)
                try:
                    # the child does the same: whichever runs first, killpg finds the group
                    os.setpgid(pid, pid)
                except OSError:
                    pass  # the child already exec'd or exited
                children[pid] = request["id"]
                send({"id": request["id"], "pid": pid})
    finally:
        kill_children(children)


if __name__ == "__main__":
    serve(sys.argv[1:])
