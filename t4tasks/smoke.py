"""Fast checks for pull requests: does the module import, do its smoke and fast tests pass?

``smoke`` imports the module's package in a fresh interpreter (an import-time crash is the most
common breakage and the cheapest to find) and runs its tests marked ``smoke``; ``tests_fast``
runs all its tests except those marked ``integration``. Neither measures coverage or records
anything: they answer pass or fail, per module, quickly.
"""

from __future__ import annotations

import os
import subprocess
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


def _pytest(root: Path, module: Module, marker: str, timeout: float, extra: tuple[str, ...]) -> tuple[int | None, str]:
    with tempfile.TemporaryDirectory(prefix="t4-smoke-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\nmarkers =\n    smoke: fast checks\n    integration: slow, cross-module tests\n")
        command = [sys.executable, "-m", "pytest", *module.test_paths, "-m", marker, "-q",
                   "-c", str(ini), f"--rootdir={root}", f"--confcutdir={root}",
                   "--import-mode=importlib", "-p", "no:cacheprovider", "-p", "no:cov", *extra]
        return _run(command, root, timeout)


def smoke(project: Project, module: Module) -> tuple[bool, str]:
    """Import the package in a fresh process, then run its ``smoke``-marked tests."""
    name = import_name(project, module)
    code, output = _run([sys.executable, "-c", f"import {name}"], project.root, project.config.timeout)
    if code != 0:
        return False, f"import {name} failed: {output}"
    if not module.test_paths:
        return True, f"import {name} ok; no tests"
    code, output = _pytest(project.root, module, "smoke", project.config.timeout, project.config.pytest_args)
    if code in (0, NO_TESTS):
        return True, f"import {name} ok; " + ("smoke tests passed" if code == 0 else "no smoke tests")
    return False, f"smoke tests failed: {output}"


def fast(project: Project, module: Module) -> tuple[bool, str]:
    """All of the module's tests except those marked ``integration``."""
    if not module.test_paths:
        return True, "no tests"
    code, output = _pytest(project.root, module, "not integration", project.config.timeout,
                           project.config.pytest_args)
    if code in (0, NO_TESTS):
        return True, output.splitlines()[-1] if output else "passed"
    return False, output


