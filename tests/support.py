"""Helpers shared by the tests: temporary repositories, the real `t4` CLI, doit output.

A module of its own (not conftest.py) so test files can import it under
`--import-mode=importlib`, which is how T4 runs test suites, including this one.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import orjson

from tests import forkserver

REPO = Path(__file__).resolve().parents[1]
LUKHAS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "lukhas"
MANIFEST = "module.manifest.json"
GENERATED = "docs/_generated"
OUTPUTS = ("MODULE_REGISTRY.json", "MODULE_SUMMARIES.json", "MODULE_INDEX.md", "DOCUMENTATION_MAP.md")


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def make_repo(root: Path, modules: dict[str, Any], files: dict[str, str | bytes] | None = None,
              pyproject: str | None = None) -> Path:
    """Build a repository under ``root``.

    ``modules`` maps a module folder ("." for the root) to its manifest: a dict (written as JSON)
    or raw ``str``/``bytes`` (written as is, for broken manifests). ``files`` adds other files.
    """
    root.mkdir(parents=True, exist_ok=True)
    for folder, manifest in modules.items():
        if isinstance(manifest, dict | list):
            manifest = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
        write(root / folder / MANIFEST, manifest)
    for relpath, content in (files or {}).items():
        write(root / relpath, content)
    if pyproject is not None:
        write(root / "pyproject.toml", pyproject)
    return root


def _env(root: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    # a temporary folder must never be taken for part of an enclosing git work tree
    if root is not None:
        env["GIT_CEILING_DIRECTORIES"] = str(Path(root).resolve().parent)
    env.pop("DOIT_CONFIG", None)
    return env


def run_t4(root: Path | None, *args: str, cwd: Path | None = None, timeout: float = 120) -> tuple[int, str, str]:
    """Run the real CLI in a process of its own: (returncode, stdout, stderr).

    ``root`` is passed as ``--root`` (None: no ``--root``, the cwd decides); cwd defaults to root.
    """
    args = (["--root", str(root)] if root is not None else []) + list(args)
    env = _env(root if root is not None else cwd)
    server = _fork_server(env)
    if server is not None:
        return _forked_t4(server, args, Path(cwd or root or Path.cwd()), env, timeout)
    proc = subprocess.run([sys.executable, "-m", "t4tasks.cli", *args], cwd=cwd or root, capture_output=True,
                          text=True, timeout=timeout, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def _interpreter_settings(env: dict[str, str]) -> dict[str, str]:
    """The variables that decide what an interpreter imports (a run with others starts one afresh)."""
    return {name: value for name, value in env.items() if name.startswith("PYTHON")}


# the fork server and the interpreter settings it started with
_server: list[tuple[subprocess.Popen, dict[str, str]]] = []


def _fork_server(env: dict[str, str]) -> subprocess.Popen | None:
    """The fork server for a run with ``env`` (started when none runs); None if the run needs a fresh interpreter."""
    # Most tests start several t4 runs; importing T4 and doit anew for each cost a third of the
    # suite's time in processes that did nothing else.
    if not hasattr(os, "fork"):
        return None
    if not _server or _server[0][0].poll() is not None:
        # measurement starts in each run of the fork server, not in the server itself
        server_env = {name: value for name, value in env.items() if name not in forkserver.MEASURED}
        server = subprocess.Popen([sys.executable, "-P", "-c", Path(forkserver.__file__).read_text("utf-8")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=server_env, cwd=REPO)
        _server[:] = [(server, _interpreter_settings(server_env))]
    server, settings = _server[0]
    return server if _interpreter_settings(env) == settings else None


@atexit.register
def _stop_server() -> None:
    # waited for, so the tests' process accounts for the runs' time and leaves no process behind
    for server, _ in _server:
        server.stdin.close()
        server.wait(timeout=60)


def _forked_t4(server: subprocess.Popen, args: list[str], cwd: Path, env: dict[str, str],
               timeout: float) -> tuple[int, str, str]:
    """``t4 ARGS`` forked from a process that imported T4 once (tests/forkserver.py)."""
    with tempfile.TemporaryDirectory(prefix="t4run-") as scratch:
        out, err = Path(scratch) / "out", Path(scratch) / "err"
        out.touch()
        err.touch()
        request = {"args": args, "cwd": str(cwd), "env": env, "out": str(out), "err": str(err)}
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        pid = json.loads(server.stdout.readline())["pid"]
        expired = threading.Event()

        def kill() -> None:  # as subprocess.run does at its timeout
            expired.set()
            os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            code = json.loads(server.stdout.readline())["code"]
        finally:
            timer.cancel()
        if expired.is_set():
            raise subprocess.TimeoutExpired(["t4", *args], timeout)
        return code, out.read_text(), err.read_text()


_EXECUTED = re.compile(r"^\.  (\S+)\s*$")
_UPTODATE = re.compile(r"^-- (\S+)\s*$")


def doit_tasks(stdout: str) -> tuple[list[str], list[str]]:
    """doit's report: (executed task names, up-to-date task names), in print order."""
    executed, uptodate = [], []
    for line in stdout.splitlines():
        if m := _EXECUTED.match(line):
            executed.append(m.group(1))
        elif m := _UPTODATE.match(line):
            uptodate.append(m.group(1))
    return executed, uptodate


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                          env=_env(root))
    return proc.stdout


def git_init(root: Path, message: str = "initial") -> Path:
    """``git init`` with a local identity, add everything, commit."""
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t4@example.invalid")
    git(root, "config", "user.name", "T4 tests")
    git(root, "config", "commit.gpgsign", "false")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return root


def read_registry(root: Path) -> dict:
    return orjson.loads((root / GENERATED / "MODULE_REGISTRY.json").read_bytes())


def manifest(name: str | dict, **extra: Any) -> dict:
    """A minimal valid manifest."""
    return {"schema_version": "1.0.0", "module": name, "matrix": {"lane": "L1"}, **extra}


def t4_run(root: Path, *args: str, timeout: float = 300) -> tuple[int, list[str], list[str], str]:
    """``t4 ARGS`` in ``root``: exit code, executed and up-to-date task names, all output."""
    code, out, err = run_t4(root, *args, timeout=timeout)
    executed, uptodate = doit_tasks(out)
    return code, executed, uptodate, out + err


def ledger_lines(path: Path) -> list[dict]:
    """Every line of a ledger, parsed strictly: a torn or malformed line fails the test."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), f"{path} does not end with a newline"
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


def latest(entries: list[dict]) -> dict[str, dict]:
    """The last entry per module."""
    return {e["module"]: e for e in entries}
