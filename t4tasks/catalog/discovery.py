"""Which files exist in the repository, and which of them are module manifests."""
# In a git work tree the answer comes from ``git ls-files`` (tracked files, plus untracked ones
# that git does not ignore: ignored files never count); elsewhere from a walk that skips
# virtualenvs, caches, build output and archives. Paths are repo-relative POSIX strings, because
# doit compares ``file_dep`` literally.

from __future__ import annotations

import bisect
import functools
import hashlib
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from t4tasks.catalog.config import ConfigError

MANIFEST_NAME = "module.manifest.json"

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".t4", "node_modules", ".venv", "venv", "env", "__pycache__",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", "build", "dist",
    "wheelhouse", "site-packages", "htmlcov",
})  # plus *.egg-info; a folder named "archive" can be a real module (it is in the lukhas fixture)


class GitRefused(ConfigError):
    """git will not work in the repository (it is owned by another user)."""


@dataclass(frozen=True)
class FileListing:
    tracked: tuple[str, ...]     # files git tracks (or every walked file outside git), sorted
    untracked: tuple[str, ...]   # untracked, not ignored files (git only), sorted
    is_git: bool
    symlinks: frozenset[str] = frozenset()  # listed paths that are symbolic links
    # git's blob id of each tracked file whose work tree content equals the index (git checked,
    # racily clean entries included): a content id that needs no read, even after a fresh clone
    clean_blobs: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    listed_at: float = 0.0   # epoch seconds when git was asked (files changed later are not "clean")
    root: str = ""           # the folder listed (where links are read from)

    @functools.cached_property
    def all_files(self) -> tuple[str, ...]:
        """Every file that belongs to the work tree: tracked plus untracked-but-not-ignored."""
        return tuple(sorted(self.tracked + self.untracked))

    @functools.cached_property
    def file_set(self) -> frozenset[str]:
        return frozenset(self.all_files)

    @functools.cached_property
    def digest(self) -> str:
        """One id for the listing: what exists and where each link points, not what the files hold."""
        h = hashlib.sha256()
        for part in (self.tracked, ("\0untracked",), self.untracked, ("\0links",), sorted(self.symlinks)):
            h.update("\0".join(part).encode("utf-8", "surrogateescape"))
        for link in sorted(self.symlinks):  # a retargeted link can move a module's code outside the root
            h.update(b"\0" + _link_target(self.root, link).encode("utf-8", "surrogateescape"))
        return h.hexdigest()

    @functools.cached_property
    def by_folder(self) -> dict[str, list[str]]:
        """Files grouped by the folder that directly holds them ("" for the root)."""
        groups: dict[str, list[str]] = {}
        for path in self.all_files:
            folder, _, _ = path.rpartition("/")
            groups.setdefault(folder, []).append(path)
        return groups

    def under(self, folder: str) -> list[str]:
        """Files inside ``folder`` (recursively), found by bisection in the sorted listing."""
        files = self.all_files
        if folder in ("", "."):
            return list(files)
        # "0" sorts right after "/": everything starting with "folder/" lies between the two
        start = bisect.bisect_left(files, folder + "/")
        return list(files[start:bisect.bisect_left(files, folder + "0", start)])


def _git(root: Path, *args: str) -> list[str] | None:
    """Run a git command in root; None when root is not a git work tree."""
    return _wait(_start_git(root, *args))


def _start_git(root: Path, *args: str, stderr: int = subprocess.DEVNULL) -> subprocess.Popen | None:
    try:
        return subprocess.Popen(["git", "-C", str(root), *args], stdout=subprocess.PIPE, stderr=stderr)
    except OSError:
        return None


def _wait(process: subprocess.Popen | None) -> list[str] | None:
    if process is None:
        return None
    out, err = process.communicate()
    if process.returncode != 0:
        if err and b"safe.directory" in err:
            # git refuses a repository another user owns (common in CI containers): walking the
            # folder instead would register untracked junk as modules
            raise GitRefused(f"git refuses the repository {process.args[2]} (dubious ownership); "
                             f"if you trust it, run: git config --global --add safe.directory {process.args[2]}")
        return None
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def _walk(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        # a symlinked folder is listed as one entry, as git does, and never followed: the
        # safe-path check then sees it (and where it points) instead of silently missing it
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and d not in links
                             and not d.endswith(".egg-info"))
        found.extend(prefix + name for name in (*filenames, *links))
    return found


def list_files(root: Path) -> FileListing:
    """List the repository's files; git decides what belongs when root is a work tree."""
    listed_at = time.time()
    # four git calls at once: the two that walk the work tree take most of the time
    calls = [_start_git(root, "rev-parse", "--show-prefix", stderr=subprocess.PIPE),
             _start_git(root, "ls-files", "-z", "--stage", "-v"),  # "<tag> <mode> <sha> <stage>\t<path>"
             _start_git(root, "ls-files", "-z", "--modified"),   # content differs from the index, or deleted
             _start_git(root, "ls-files", "-z", "--others", "--exclude-standard")]
    try:
        top = _wait(calls[0])
    except GitRefused:
        for call in calls[1:]:
            _wait(call)  # reaped: the refusal is what the user sees
        raise
    staged = _wait(calls[1])
    if top is not None and staged is not None:
        # the index listing is parsed while git still walks the work tree for the other two
        # "<tag> <mode> <blob> <stage>": slices, not splits (a line per tracked file)
        entries = [line.split("\t", 1) for line in staged]
        links = {path for meta, path in entries if meta[2:8] == "120000"}
        # a path with several index entries is in a merge conflict: no single blob is its content;
        # git does not look at files marked assume-unchanged ("h") or skip-worktree ("S"): only
        # the "H" entries are known to match their blob
        stages = {path for meta, path in entries if not meta.endswith(" 0")}
        blobs = {path: meta[9:-2] for meta, path in entries if meta.startswith(("H 100644", "H 100755"))
                 and path not in stages}
        modified, untracked = _wait(calls[2]), _wait(calls[3]) or []
        changed = set(modified or ())
        for path in changed:
            blobs.pop(path, None)
        live = sorted({path for _, path in entries if path not in changed or os.path.lexists(root / path)})
        links.update(p for p in untracked if os.path.islink(root / p))
        return FileListing(tuple(live), tuple(sorted(untracked)), True, frozenset(links), blobs, listed_at, str(root))
    for call in calls[2:]:
        _wait(call)
    walked = sorted(_walk(root))
    return FileListing(tuple(walked), (), False, frozenset(p for p in walked if os.path.islink(root / p)),
                       root=str(root))


def _link_target(root: str, relpath: str) -> str:
    try:
        return os.readlink(os.path.join(root, relpath))
    except OSError:
        return ""


def find_manifests(listing: FileListing, globs: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """Manifest paths among the listed files, sorted."""
    # In git, tracked ones and untracked ones that are not ignored (a manifest ``t4 init`` just
    # wrote counts before ``git add``; an ignored one never).
    names = {g[3:] for g in globs if g.startswith("**/") and not any(c in g[3:] for c in "*?[/!")}
    if len(names) == len(globs) and not exclude:
        # the common case, "**/module.manifest.json": a name comparison, no pattern engine
        return [p for p in listing.all_files if p.rsplit("/", 1)[-1] in names]
    import pathspec

    wanted = pathspec.GitIgnoreSpec.from_lines(globs)
    unwanted = pathspec.GitIgnoreSpec.from_lines(exclude)
    return [p for p in listing.all_files if wanted.match_file(p) and not unwanted.match_file(p)]


def untracked_manifests(listing: FileListing, manifests: list[str]) -> list[str]:
    """The manifests git does not track yet (counted, and worth one warning: commit them)."""
    untracked = set(listing.untracked)
    return [p for p in manifests if p in untracked]
