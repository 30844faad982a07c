"""How a measurement starts pytest: the standard library first, pytest's own entry point."""

from __future__ import annotations

import os
import subprocess

from t4tasks.measure import launch


def test_pytest_starts_without_a_deprecated_entry_point(tmp_path):
    # pytest 9.2 deprecates console_main: its warning took 3 of the 12 lines a failed run keeps
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "COVERAGE_PROCESS_START")}
    command = launch.pytest_command(tmp_path)
    run = subprocess.run([command[0], "-W", "error::DeprecationWarning", *command[1:], "-q", "-p", "no:cacheprovider"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout and "deprecated" not in run.stderr


def test_a_module_named_like_the_standard_library_is_told_why():
    assert "standard-library" in launch.shadow_note("html/parser")
    assert launch.shadow_note("payments") is None
