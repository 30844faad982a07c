"""A process that imports T4 once and forks a fresh ``t4`` run for each request of the tests."""
# Started as ``python -P -c`` with this file's text (see ``tests.support.run_t4``). Requests and
# answers are JSON lines on stdin and stdout: ``{"args", "cwd", "env", "out", "err"}`` in;
# ``{"pid"}`` once the run started, then ``{"code"}`` when it ended.

from __future__ import annotations

import atexit
import json
import os
import sys
import traceback

MEASURED = ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter makes of ``SystemExit(exc.code)``."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)
    return 1


def _run(request: dict, cli, coverage, exit_handlers: list[tuple]) -> None:
    """The forked child: become ``t4 ARGS`` run in ``cwd`` with ``env``; never returns."""
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["out"], os.O_WRONLY),
                                (2, request["err"], os.O_WRONLY)):
            target = os.open(path, flags)
            os.dup2(target, fd)
            os.close(target)
        sys.stdin = open(os.devnull, encoding="utf-8")
        sys.argv = ["t4", *request["args"]]
        if any(name in os.environ for name in MEASURED):
            # measured like a fresh subprocess would be (coverage's own start-up hook), from here on
            coverage.process_startup()
            # In a fresh process coverage's exit handler comes first, so it runs last and
            # measures the others; registered again, they are measured here too.
            for func, args, kwargs in exit_handlers:
                atexit.unregister(func)
                atexit.register(func, *args, **kwargs)
        cli.run()  # exits the process
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def serve() -> None:
    """Answer requests until stdin closes."""
    # imported once here, not measured: the tests' own process imports the same modules measured
    exit_handlers, register = [], atexit.register

    def recording(func, *args, **kwargs):
        exit_handlers.append((func, args, kwargs))
        return register(func, *args, **kwargs)

    atexit.register = recording
    sys.argv = ["t4"]  # doit names the program after it when imported: as the installed command
    import coverage  # imported, not started: each measured run starts it
    from t4tasks import cli
    atexit.register = register
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run(request, cli, coverage, exit_handlers)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
