"""Fast checks for pull requests: does the module import, do its smoke and fast tests pass?

``smoke`` imports the module's package in a fresh interpreter (an import-time crash is the most
common breakage and the cheapest to find) and runs its tests marked ``smoke``; ``tests_fast``
runs all its tests except those marked ``integration``. Neither measures coverage or records
anything: they answer pass or fail, per module, quickly.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
import sys
import tempfile
from pathlib import Path

from . import children
from .module import Module
from .project import Project

# pytest's exit code when no test matched the marker: not a failure for a smoke run
NO_TESTS = 5


def import_name(project: Project, module: Module) -> str:
    """The dotted name to import: the code folder as a package path when it is one."""
    if f"{module.code_path}/__init__.py" in project.listing.file_set:
        return module.code_path.replace("/", ".")
    return module.name


def _run(command: list[str], root: Path, timeout: float) -> tuple[int | None, str]:
    with tempfile.TemporaryFile() as log:
        code = children.run(command, cwd=root, env=dict(os.environ), timeout=timeout,
                            stdout=log, stderr=subprocess.STDOUT)
        log.seek(0)
        output = log.read().decode("utf-8", "replace").strip().splitlines()
    if code is None:
        return None, f"timed out after {timeout:g} s"
    return code, "\n".join(output[-12:])


# one fresh interpreter per module: import the package first (an import-time crash is reported as
# such), then run pytest in the same process, which halves the start-up cost of a smoke run
_IMPORT_THEN_PYTEST = """
import importlib, sys, traceback
try:
    importlib.import_module(sys.argv[1])
except BaseException:
    traceback.print_exc()
    sys.exit(IMPORT_FAILED)
if len(sys.argv) == 2:
    sys.exit(0)
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""
IMPORT_FAILED = 99


def _pytest_args(root: Path, module: Module, marker: str, ini: Path, extra: tuple[str, ...]) -> list[str]:
    return [*module.test_paths, "-m", marker, "-q", "-c", str(ini), f"--rootdir={root}",
            f"--confcutdir={root}", "--import-mode=importlib", "-p", "no:cacheprovider", "-p", "no:cov", *extra]


def _run_in_fresh_python(root: Path, module: Module, marker: str, timeout: float, extra: tuple[str, ...],
                         import_first: str | None = None) -> tuple[int | None, str]:
    with tempfile.TemporaryDirectory(prefix="t4-smoke-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\nmarkers =\n    smoke: fast checks\n    integration: slow, cross-module tests\n")
        args = _pytest_args(root, module, marker, ini, extra) if module.test_paths else []
        if import_first is None:
            command = [sys.executable, "-m", "pytest", *args]
        else:
            script = _IMPORT_THEN_PYTEST.replace("IMPORT_FAILED", str(IMPORT_FAILED))
            command = [sys.executable, "-c", script, import_first, *args]
        return _run(command, root, timeout)


def _mentions_smoke(project: Project, module: Module) -> bool:
    """Whether any of the module's test files says "smoke": when none does, it has no smoke tests
    and starting pytest (half a second with the usual plugins) can be skipped."""
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
    code, output = _run_in_fresh_python(project.root, tested, "smoke", project.config.timeout,
                                        project.config.pytest_args, import_first=name)
    if code == IMPORT_FAILED:
        return False, f"import {name} failed: {output}"
    if not tested.test_paths and code == 0:
        return True, f"import {name} ok; " + ("no smoke tests" if module.test_paths else "no tests")
    if code in (0, NO_TESTS):
        return True, f"import {name} ok; " + ("smoke tests passed" if code == 0 else "no smoke tests")
    return False, f"smoke tests failed: {output}"


def fast(project: Project, module: Module) -> tuple[bool, str]:
    """All of the module's tests except those marked ``integration``."""
    if not module.test_paths:
        return True, "no tests"
    code, output = _run_in_fresh_python(project.root, module, "not integration", project.config.timeout,
                                        project.config.pytest_args)
    if code in (0, NO_TESTS):
        return True, output.splitlines()[-1] if output else "passed"
    return False, output


