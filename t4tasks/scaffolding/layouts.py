"""Where a repository's modules are."""
# Packages, subpackages, distributions and Django apps, with the tests, benchmarks and docs that
# belong to each, found from the file listing alone (nothing imported).
#
# A module is proposed where the maintainers drew a boundary: a top-level package, a distribution
# (a folder with its own ``pyproject.toml``/``setup.py``), a subpackage that has tests of its own
# (``sub/tests/`` or a parallel ``tests/test_sub/``/``tests/sub/``), up to ``depth`` package
# levels.

from __future__ import annotations

import keyword
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from t4tasks.catalog import discovery

DIST_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
TEST_FOLDERS = ("tests", "test")
# folders that hold packages but are not modules of the product, and why
NOT_MODULES = {
    **{name: "tests are mapped to modules, not modules themselves" for name in TEST_FOLDERS},
    **{name: "documentation, not code" for name in ("docs", "doc")},
    **{name: "examples and tooling are not modules" for name in ("examples", "scripts", "templates")},
    "benchmarks": "benchmarks are mapped to modules, not modules themselves",
    **{name: "build output, caches or environments" for name in discovery.SKIP_DIRS},
}
DEFAULT_DEPTH = 3


@dataclass
class Proposal:
    name: str                  # dotted module name
    folder: str                # repo-relative folder that holds the manifest
    code: str                  # repo-relative
    layout: str                # which rule found it, said in the dry run
    tests: list[str] = field(default_factory=list)
    benchmarks: list[str] = field(default_factory=list)
    docs: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


class _Tree:
    """Folders and files of the listing, for membership questions without touching the disk."""

    def __init__(self, files: tuple[str, ...]):
        self.files = frozenset(files)
        self.children: dict[str, set[str]] = {"": set()}   # folder -> its subfolders' names
        for path in files:
            parts = path.split("/")
            for i in range(1, len(parts)):
                self.children.setdefault("/".join(parts[:i]), set())
                self.children["/".join(parts[:i - 1])].add(parts[i - 1])

    def is_dir(self, folder: str) -> bool:
        return ("" if folder == "." else folder) in self.children

    def subdirs(self, folder: str) -> list[str]:
        key = "" if folder == "." else folder
        return sorted(posixpath.join(key, d) if key else d for d in self.children.get(key, ()))

    def is_package(self, folder: str) -> bool:
        return posixpath.join(folder, "__init__.py") in self.files

    def has_python(self, folder: str) -> bool:
        prefix = folder + "/"
        return any(p.startswith(prefix) and p.endswith(".py") for p in self.files)


def detect(root: Path, listing: discovery.FileListing, excluded, depth: int = DEFAULT_DEPTH
           ) -> tuple[list[Proposal], list[Skipped]]:
    """Every module the layout suggests, and every folder passed over with the reason."""
    tree = _Tree(listing.all_files)
    proposals: list[Proposal] = []
    skipped: list[Skipped] = []
    claimed: set[str] = set()

    def refuse(folder: str) -> str | None:
        for part in folder.split("/"):
            if part in NOT_MODULES or part.endswith(".egg-info"):
                return f"inside {part}/: {NOT_MODULES.get(part, 'build output')}"
        if excluded(folder):
            return "excluded by [tool.t4] exclude"
        return None

    # (c) distributions: every folder below the root with its own project file
    dists = sorted({posixpath.dirname(p) for p in tree.files
                    if posixpath.basename(p) in DIST_FILES and "/" in p})
    for dist in dists:
        if any(dist.startswith(d + "/") for d in dists if d != dist):
            continue  # a project inside a project: the outer one owns it
        reason = refuse(dist)
        if reason:
            skipped.append(Skipped(dist, reason))
            continue
        found = _distribution(root, tree, dist, depth, skipped)
        if found:
            proposals += found
            claimed.add(dist)

    # (e), (d), (a), (b): packages at the root, under src/, and next to a Django manage.py
    bases = [".", "src", *sorted({posixpath.dirname(p) for p in tree.files
                                  if posixpath.basename(p) == "manage.py" and "/" in p})]
    packages: list[tuple[str, str]] = []
    for base in bases:
        if not tree.is_dir(base) or (base != "." and tree.is_package(base)) or any(
                base == c or base.startswith(c + "/") for c in claimed):
            continue
        for folder in tree.subdirs(base):
            if folder == "src":
                continue
            if any(folder == c or folder.startswith(c + "/") for c in claimed) or folder in dict(packages):
                continue
            reason = refuse(folder)
            if reason:
                if tree.has_python(folder) and posixpath.basename(folder) not in discovery.SKIP_DIRS:
                    skipped.append(Skipped(folder, reason))
                continue
            if base == "." and not tree.is_package(folder):
                continue  # only src/ and distributions hold namespace packages
            packages += _top_packages(tree, folder, "", skipped)
    tests_root = "tests" if tree.is_dir("tests") else None
    taken = {p.name.casefold() for p in proposals}
    for folder, name in packages:
        if name.casefold() in taken:
            skipped.append(Skipped(folder, f"module name {name!r} is already proposed for another folder"))
            continue
        taken.add(name.casefold())
        parallel = _parallel_tests(tree, tests_root, name.rsplit(".", 1)[-1], len(packages) == 1)
        layout = "Django app" if tree.files & {f"{folder}/apps.py"} else "top-level package"
        proposals += _package(tree, folder, name, layout, parallel, depth, skipped)
    if not proposals and not skipped:
        skipped.append(Skipped(".", "no Python package (a folder with __init__.py) and no folder with its own pyproject.toml"))
    return sorted(proposals, key=lambda p: p.name), skipped


def _top_packages(tree: _Tree, folder: str, prefix: str, skipped: list[Skipped]) -> list[tuple[str, str]]:
    """The regular packages at ``folder``, looking through namespace folders (no ``__init__.py``)."""
    name = posixpath.basename(folder)
    if not name.isidentifier() or keyword.iskeyword(name):
        if tree.has_python(folder):
            skipped.append(Skipped(folder, f"{name!r} is not an importable name"))
        return []
    if name.startswith("_"):
        if tree.has_python(folder):
            skipped.append(Skipped(folder, "private folder (leading '_')"))
        return []
    if tree.is_package(folder):
        return [(folder, prefix + name)]
    found = []
    for sub in tree.subdirs(folder):
        if posixpath.basename(sub) not in NOT_MODULES:
            found += _top_packages(tree, sub, prefix + name + ".", skipped)
    return found


def _parallel_tests(tree: _Tree, tests_root: str | None, name: str, only: bool) -> list[str]:
    """A package's folder in a parallel tests tree."""
    if tests_root is None:
        return []
    if only:  # a repository's only package owns the whole ``tests/``, and the test files added later
        return [tests_root]
    for candidate in (f"{tests_root}/test_{name}", f"{tests_root}/{name}"):
        if tree.is_dir(candidate):
            return [candidate]
    if f"{tests_root}/test_{name}.py" in tree.files:
        return [f"{tests_root}/test_{name}.py"]
    return []


def _own_tests(tree: _Tree, folder: str) -> list[str]:
    found = [posixpath.join(folder, d) for d in TEST_FOLDERS if tree.is_dir(posixpath.join(folder, d))]
    if not found and posixpath.join(folder, "tests.py") in tree.files:  # Django's app/tests.py
        found = [posixpath.join(folder, "tests.py")]
    return found


def _package(tree: _Tree, folder: str, name: str, layout: str, parallel: list[str], depth: int,
             skipped: list[Skipped], code: str | None = None, home: str | None = None) -> list[Proposal]:
    """The module for package ``folder`` and, below ``depth``, one per subpackage with tests of its own."""
    tests = _own_tests(tree, folder) + parallel
    here = home or folder
    proposal = Proposal(name, here, code or folder, layout, tests,
                        [b for b in (f"{here}/benchmarks", f"{folder}/tests/benchmarks") if tree.is_dir(b)],
                        _docs(tree, here))
    found = [proposal]
    if name.count(".") + 1 >= depth:
        # no finer modules: the subpackages' own tests are this module's tests
        proposal.tests += [t for sub in _descendants(tree, folder) for t in _own_tests(tree, sub)]
        return found
    parallel_dirs = [t for t in parallel if tree.is_dir(t)]
    for sub in tree.subdirs(folder):
        base = posixpath.basename(sub)
        if not tree.is_package(sub) or base in NOT_MODULES or base.startswith("_") or not base.isidentifier():
            continue
        sub_parallel = [c for t in parallel_dirs for c in (f"{t}/test_{base}", f"{t}/{base}") if tree.is_dir(c)][:1]
        sub_layout = ("subpackage with its own tests" if _own_tests(tree, sub)
                      else "subpackage in a parallel tests tree" if sub_parallel else None)
        if sub_layout is None:
            if depth > 1 and tree.has_python(sub):
                skipped.append(Skipped(sub, f"no tests of its own: measured as part of {name}"))
            continue
        found += _package(tree, sub, f"{name}.{base}", sub_layout, sub_parallel, depth, skipped)
    return found


def _descendants(tree: _Tree, folder: str) -> list[str]:
    found = []
    for sub in tree.subdirs(folder):
        if tree.is_package(sub) and posixpath.basename(sub) not in NOT_MODULES:
            found += [sub, *_descendants(tree, sub)]
    return found


def _docs(tree: _Tree, folder: str) -> str | None:
    return next((d for d in (f"{folder}/docs", f"{folder}/doc") if tree.is_dir(d)), None)


def _distribution(root: Path, tree: _Tree, dist: str, depth: int, skipped: list[Skipped]) -> list[Proposal]:
    """(c) One module per distribution, its code the package(s) under ``src/`` or beside the project file."""
    base = f"{dist}/src" if tree.is_dir(f"{dist}/src") else dist
    packages = []
    for sub in tree.subdirs(base):
        if posixpath.basename(sub) not in NOT_MODULES:
            packages += _top_packages(tree, sub, "", skipped)
    if not packages:
        skipped.append(Skipped(dist, "has a project file but no Python package"))
        return []
    project_name, description = _project_metadata(root / dist)
    name = _identifier(project_name or posixpath.basename(dist))
    if name is None:
        skipped.append(Skipped(dist, f"project name {project_name!r} cannot be a module name"))
        return []
    code = packages[0][0] if len(packages) == 1 else base
    parallel = [t for t in (f"{dist}/tests", f"{dist}/test") if tree.is_dir(t)]
    if len(packages) == 1:
        found = _package(tree, code, name, "distribution", parallel, depth, skipped, code=code, home=dist)
    else:
        found = [Proposal(name, dist, code, "distribution", parallel, [], _docs(tree, dist))]
    found[0].description = description
    return found


def _project_metadata(folder: Path) -> tuple[str, str]:
    """``[project]`` (or ``[tool.poetry]``) name and description from a distribution's pyproject.toml."""
    try:
        data = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "", ""
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    for table in (data.get("project"), tool.get("poetry")):
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            description = table.get("description")
            return table["name"], description if isinstance(description, str) else ""
    return "", ""


def _identifier(project_name: str) -> str | None:
    """A distribution name as a module name: ``my-dist.core`` → ``my_dist_core``."""
    name = re.sub(r"[-.\s]+", "_", project_name.strip())
    return name if name.isidentifier() and not keyword.iskeyword(name) else None
