"""Which modules changed since a git ref: committed, staged, unstaged and untracked changes."""
# Used by ``--changed-since REF`` so a pull request gates only the modules it touches: those whose
# inputs (their measurement key: code, tests, benchmarks, the files their runs imported, the
# manifest without its observed blocks) changed. T4's own writes (observed blocks, ledgers,
# generated files) change no module. A change to a shared file (root ``conftest.py``,
# ``pyproject.toml``, configured globals) can change any module's behaviour, so it marks every
# module changed.

from __future__ import annotations

import posixpath
import subprocess
from pathlib import Path

import orjson

from t4tasks.catalog.discovery import MANIFEST_NAME
from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.checks import base_ref
from t4tasks.ledgers import observed
from t4tasks.measure import inputs


class ChangesError(Exception):
    """The ref cannot be resolved or the root is not a git work tree."""


def verify_ref(root: Path, ref: str) -> str:
    """The commit ``ref`` names, or ChangesError in one line (see ``base_ref.verify``)."""
    try:
        return base_ref.verify(root, ref, option="--changed-since")
    except base_ref.RefError as exc:
        raise ChangesError(str(exc)) from None


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
    for folder in (module.code_path, *module.test_paths, *module.bench_paths):
        if path == folder or folder == "." or path.startswith(folder + "/"):
            nested = project.nested_paths(module)
            return not any(path.startswith(n + "/") for n in nested if not folder.startswith(n))
    return False


def _ours(project: Project, path: str) -> bool:
    """Whether ``path`` is one of T4's own outputs (ledgers, generated files, trends, state)."""
    config = project.config
    return any(path == folder or path.startswith(folder.rstrip("/") + "/")
               for folder in (config.ledger_dir, config.generated_dir, config.trends_dir, config.state_dir))


def _manifest_changed(root: Path, ref: str, path: str) -> bool:
    """Whether the manifest differs from its merge-base version in more than its observed blocks."""
    def load(args: list[str]) -> dict | None:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True)
        try:
            data = orjson.loads(done.stdout) if done.returncode == 0 else None
        except orjson.JSONDecodeError:
            return None
        return _identity(data) if isinstance(data, dict) else None

    base = subprocess.run(["git", "-C", str(root), "merge-base", ref, "HEAD"], capture_output=True, text=True)
    if base.returncode != 0:
        return True
    before = load(["show", f"{base.stdout.strip()}:{path}"])
    try:
        now = orjson.loads((root / path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return True
    # observed blocks left out: T4 writes them after each measurement
    return before is None or not isinstance(now, dict) or before != _identity(now)


def _identity(manifest: dict) -> dict:
    """The manifest without observed blocks, nor the sections they alone filled."""
    return {k: v for k, v in observed.strip(manifest).items() if v != {} or manifest.get(k) == {}}


def changed_modules(project: Project, ref: str) -> list[Module]:
    files = {f for f in changed_files(project.root, ref) if not _ours(project, f)}
    if any(f in files for f in project.config.shared_files):
        return list(project.modules)
    manifests = {f for f in files if posixpath.basename(f) == MANIFEST_NAME}
    files -= {f for f in manifests if not _manifest_changed(project.root, ref, f)}
    changed = []
    for module in project.modules:
        keyed = {f for paths in (module.test_paths, module.bench_paths)
                 for f in inputs.module_inputs(project, module, paths)}
        if module.manifest_path in files or any(f in keyed or (f not in manifests and _touches(module, project, f))
                                                for f in files):
            changed.append(module)
    return changed
