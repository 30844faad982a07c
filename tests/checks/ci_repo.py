"""A repository with two commits, as a pull request sees it: ``base`` measured, then a change to
one module (alpha gains a function its tests never call), measured again and committed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import git, git_init, make_repo, manifest, t4_run, write

ALPHA = "def sign(x):\n    if x > 0:\n        return 1\n    return -1\n"
# five executable lines its tests never run
ALPHA_NEW = ALPHA + ("\n\ndef scale(values, factor):\n    out = []\n    for v in values:\n"
                     "        out.append(v * factor)\n    return out\n")
ALPHA_TEST = "from alpha.core import sign\n\n\ndef test_sign():\n    assert sign(5) == 1\n    assert sign(-5) == -1\n"
BETA = "def double(x):\n    return 2 * x\n"
BETA_TEST = "from beta.core import double\n\n\ndef test_double():\n    assert double(2) == 4\n"


def base_repo(root: Path) -> Path:
    """Commit 1 (tagged ``base``): alpha and beta, both fully covered, measured and committed."""
    files = {"alpha/__init__.py": "", "alpha/core.py": ALPHA, "alpha/tests/test_core.py": ALPHA_TEST,
             "beta/__init__.py": "", "beta/core.py": BETA, "beta/tests/test_core.py": BETA_TEST,
             ".gitignore": ".t4/\n"}
    make_repo(root, {"alpha": manifest("alpha"), "beta": manifest("beta", matrix={"lane": "L2"})}, files,
              pyproject="[tool.coverage.run]\nbranch = true\n")  # the headline counts branches
    git_init(root)
    code, _, _, out = t4_run(root, "coverage")
    assert code == 0, out
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "measured")
    git(root, "tag", "base")
    return root


def pr_repo(root: Path) -> Path:
    """Commit 2 on top of ``base_repo``: alpha changed (uncovered lines), measured, committed."""
    base_repo(root)
    write(root / "alpha/core.py", ALPHA_NEW)
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and executed == ["coverage:alpha"], out
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "alpha: scale()")
    return root


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The two-commit repository, built once per test module."""
    return pr_repo(tmp_path_factory.mktemp("ci") / "repo")


@pytest.fixture
def repo(shared, tmp_path):
    """A private copy for tests that change the working tree."""
    copy = tmp_path / "repo"
    shutil.copytree(shared, copy, symlinks=True)
    return copy
