"""Fast checks for pull requests: does the module import, do its smoke and fast tests pass?"""
# ``smoke`` imports the module's package in a fresh interpreter (an import-time crash is the most
# common breakage and the cheapest to find) and runs its tests marked ``smoke``; ``tests_fast``
# runs all its tests except those marked ``integration``. Neither measures coverage or records
# anything: they answer pass or fail, per module, quickly.

from __future__ import annotations

import atexit
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.measure import children, host
from t4tasks.measure.smoke_server import IMPORT_FAILED

# pytest's exit code when no test matched the marker: not a failure for a smoke run
NO_TESTS = 5
NO_SERVER_ENV = "T4_SMOKE_NO_SERVER"   # set: a fresh python per module, as without fork


def import_name(project: Project, module: Module) -> str:
    """The dotted name to import: the code folder as a package path when it is one."""
    if f"{module.code_path}/__init__.py" in project.listing.file_set:
        return module.code_path.replace("/", ".")
    return module.name


def _tail(log: Path) -> str:
    try:
        output = log.read_bytes().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(output[-12:])


class ServerGone(RuntimeError):
    """The warm interpreter died: the run falls back to a fresh ``python`` per module."""


@dataclass
class _Slot:
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None
    code: int | None = None


class _Server:
    """T4's side of ``smoke_server``."""
    # One warm interpreter per repository root and T4 process, shared by doit's worker threads
    # (each waits for its own request's answer).

    def __init__(self, root: Path, warm_argv: list[str]):
        self.process = subprocess.Popen([sys.executable, "-m", "t4tasks.measure.smoke_server", *warm_argv], cwd=root,
                                        env=dict(os.environ), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        self._lock = threading.Lock()
        self._slots: dict[int, _Slot] = {}
        self._ids = itertools.count()
        self.alive = True
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            message = json.loads(line)
            slot = self._slots.get(message["id"])
            if slot is None:
                continue
            if "pid" in message:
                slot.pid = message["pid"]
                slot.started.set()
            else:
                slot.code = message["code"]
                slot.done.set()
        self.alive = False
        for slot in list(self._slots.values()):
            slot.started.set()
            slot.done.set()

    def run(self, import_name: str | None, argv: list[str], log: Path, timeout: float, done: Path) -> int | None:
        """The child's exit code, or None when it timed out (it is killed then)."""
        slot, request_id = _Slot(), next(self._ids)
        request = {"id": request_id, "import": import_name, "argv": argv, "log": str(log), "done": str(done)}
        with self._lock:
            if not self.alive:
                raise ServerGone("the smoke server exited")
            self._slots[request_id] = slot
            try:
                self.process.stdin.write(json.dumps(request).encode() + b"\n")
                self.process.stdin.flush()
            except OSError as exc:
                raise ServerGone(f"the smoke server exited: {exc}") from None
        try:
            if slot.done.wait(timeout):
                if slot.code is None:
                    raise ServerGone("the smoke server exited during a run")
                return slot.code
            slot.started.wait(10)
            if slot.pid is not None:
                try:
                    os.killpg(slot.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            slot.done.wait(10)
            return None
        finally:
            with self._lock:
                self._slots.pop(request_id, None)

    def stop(self) -> None:
        """Close its stdin (it kills its children and exits) and wait for it."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_SERVERS: dict[Path, _Server] = {}
_SERVERS_LOCK = threading.Lock()


def _server(root: Path, warm_argv: list[str]) -> _Server | None:
    """The warm interpreter for ``root``, started on first use; None where ``fork`` is missing."""
    if not hasattr(os, "fork") or os.environ.get(NO_SERVER_ENV):
        return None
    with _SERVERS_LOCK:
        # after kill_all stopped the servers, a worker thread must not start a new one
        children.check_open()
        server = _SERVERS.get(root)
        if server is None or not server.alive:
            server = _SERVERS[root] = _Server(root, warm_argv)
        return server


def _stop_servers() -> None:
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
        server.stop()


children.at_kill(_stop_servers)
atexit.register(_stop_servers)


# the fallback: one fresh interpreter per module running what a server's child runs (import the
# package, then pytest in the same process), with ``-c`` so the root is first on sys.path
_RUN_ONE = ("import sys; from t4tasks.measure.smoke_server import run_child; "
            "sys.exit(run_child({'done': sys.argv[1], 'import': sys.argv[2], 'argv': sys.argv[3:]}))")
# the code of a run that never reached its end (see smoke_server.run_child)
CRASHED = -1000


def _pytest_args(root: Path, module: Module, marker: str, work: Path, extra: tuple[str, ...]) -> list[str]:
    """The module's tests marked ``marker``, under the host's pytest configuration (see host.config_args)."""
    return [*module.test_paths, "-m", marker, "-q", *host.config_args(root, module.test_paths, work),
            f"--rootdir={root}", f"--confcutdir={root}", "-p", "no:cacheprovider", "-p", "no:cov",
            "-p", "t4tasks.measure.smoke_markers", *extra]


def _run_in_fresh_process(root: Path, module: Module, marker: str, timeout: float, extra: tuple[str, ...],
                          import_first: str | None = None) -> tuple[int | None, str]:
    """Run the module's tests marked ``marker`` in a process of their own, after ``import_first``."""
    with tempfile.TemporaryDirectory(prefix="t4-smoke-", ignore_cleanup_errors=True) as tmp:
        args = _pytest_args(root, module, marker, Path(tmp), extra) if module.test_paths else []
        log = Path(tmp) / "output.txt"
        done = Path(tmp) / "done"
        # the warm-up session uses the same options, except what names the module's tests
        server = _server(root, _pytest_args(root, replace(module, test_paths=()), marker, Path(tmp), extra))
        code: int | None
        # a fork of the warm server, else a fresh ``python``; ``import_first`` only when given
        try:
            if server is None:
                raise ServerGone("no fork here")
            code = server.run(import_first, args, log, timeout, done)
        except ServerGone:
            with log.open("wb") as out:
                code = children.run([sys.executable, "-c", _RUN_ONE, str(done), import_first or "", *args],
                                    cwd=root, env=dict(os.environ), timeout=timeout, stdout=out,
                                    stderr=subprocess.STDOUT)
        if code is None:
            return None, f"timed out after {timeout:g} s"
        if not done.exists():
            return CRASHED, f"crashed: the run did not reach its end (exit code {code}) {_tail(log)}".strip()
        return code, _tail(log)


def _mentions_smoke(project: Project, module: Module) -> bool:
    """Whether any of the module's test files says "smoke"."""
    # When none does, it has no smoke tests and starting pytest with the usual plugins (see
    # docs/PERFORMANCE.md) can be skipped.
    files = [p for folder in module.test_paths
             for p in ([folder] if folder in project.listing.file_set else project.listing.under(folder))
             if p.endswith(".py")]
    for path in files:
        try:
            if b"smoke" in (project.root / path).read_bytes():
                return True
        except OSError:
            return True  # unreadable: let pytest say what is wrong
    return False


def smoke(project: Project, module: Module) -> tuple[bool, str]:
    """Import the package in a fresh process, then run its ``smoke``-marked tests there."""
    name = import_name(project, module)
    tested = module if _mentions_smoke(project, module) else replace(module, test_paths=())
    code, output = _run_in_fresh_process(project.root, tested, "smoke", project.config.timeout,
                                        project.config.pytest_args, import_first=name)
    if code == IMPORT_FAILED:
        return False, f"import {name} failed: {output}"
    if code == CRASHED:
        return False, output
    if not tested.test_paths and code == 0:
        return True, f"import {name} ok; " + ("no smoke tests" if module.test_paths else "no tests")
    if code in (0, NO_TESTS):
        return True, f"import {name} ok; " + ("smoke tests passed" if code == 0 else "no smoke tests")
    return False, f"smoke tests failed: {output}"


def fast(project: Project, module: Module) -> tuple[bool, str]:
    """All of the module's tests except those marked ``integration``."""
    if not module.test_paths:
        return True, "no tests"
    code, output = _run_in_fresh_process(project.root, module, "not integration", project.config.timeout,
                                        project.config.pytest_args)
    if code in (0, NO_TESTS):
        return True, output.splitlines()[-1] if output else "passed"
    return False, output  # failed, or crashed (see CRASHED)


