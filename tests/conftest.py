"""Shared fixtures; the helper functions live in tests/support.py (importable under importlib mode).

Nothing here is autouse: every test asks for what it needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import LUKHAS, MANIFEST

@pytest.fixture
def no_outer_git(tmp_path, monkeypatch):
    """In-process discovery: tmp_path is never part of an enclosing git work tree."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.resolve()))
    return tmp_path


@pytest.fixture
def lukhas(tmp_path) -> Path:
    """A private copy of ../shared/fixtures/lukhas (skipped when the fixture is absent)."""
    if not (LUKHAS / "core" / MANIFEST).is_file():
        pytest.skip(f"fixture not available: {LUKHAS}")
    copy = tmp_path / "lukhas"
    shutil.copytree(LUKHAS, copy, symlinks=True)
    return copy
