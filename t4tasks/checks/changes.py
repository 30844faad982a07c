"""Which modules changed since a git ref: committed, staged, unstaged and untracked changes.

Used by ``--changed-since REF`` so a pull request gates only the modules it touches. A change to
a shared file (root ``conftest.py``, ``pyproject.toml``, configured globals) can change any
module's behaviour, so it marks every module changed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project


class ChangesError(Exception):
    """The ref cannot be resolved or the root is not a git work tree."""


def verify_ref(root: Path, ref: str) -> str:
    """The commit ``ref`` names, or ChangesError in one line: a ref is never read as an option
    (``--output=FILE`` would make git write FILE)."""
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", "--end-of-options",
                           f"{ref}^{{commit}}"], capture_output=True)
    if done.returncode != 0 or ref.startswith("-"):
        raise ChangesError(f"--changed-since {ref!r}: not a commit in {root}")
    return done.stdout.decode().strip()


def changed_files(root: Path, ref: str) -> set[str]:
    commit = verify_ref(root, ref)

    def git(*args: str) -> list[str]:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True)
        if done.returncode != 0:
            raise ChangesError(f"--changed-since {ref}: {done.stderr.decode(errors='replace').strip()}")
        return [p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p]

    # --no-renames: a moved file changes the module it left as well as the one it joined
    files = set(git("diff", "--name-only", "--no-renames", "-z", f"{commit}...", "--"))
    files.update(git("diff", "--name-only", "--no-renames", "-z", "HEAD", "--"))
    files.update(git("ls-files", "-z", "--others", "--exclude-standard"))
    return files


def _touches(module: Module, project: Project, path: str) -> bool:
    if path == module.manifest_path:
        return True
    for folder in (module.code_path, *module.test_paths, *module.bench_paths):
        if path == folder or folder == "." or path.startswith(folder + "/"):
            nested = project.nested_paths(module)
            return not any(path.startswith(n + "/") for n in nested if not folder.startswith(n))
    return False


def changed_modules(project: Project, ref: str) -> list[Module]:
    files = changed_files(project.root, ref)
    if any(f in files for f in project.config.shared_files):
        return list(project.modules)
    return [m for m in project.modules if any(_touches(m, project, f) for f in files)]
