"""Bringing modules under T4: ``init`` for a repository that has no manifests, ``new_module`` for a new one.

Both follow the scaffolder's rules: a plan first (``init`` is a dry run unless told to apply), no
existing file is ever overwritten, every path stays inside the root, and a rerun changes nothing.
"""

from __future__ import annotations

import ast
import keyword
import os
import posixpath
import re
from pathlib import Path


from t4tasks.catalog import config as config_mod, discovery, manifest, names
from t4tasks.catalog.project import Project
from t4tasks.scaffolding import scaffold
from t4tasks.scaffolding.scaffold import Planned
from t4tasks.speed import atomic

LANES = ("L0", "L1", "L2", "L3", "L4", "L5")
SCHEMA_VERSION = "1.0.0"
MANIFEST_TEMPLATE = "manifest"  # Planned.template of a generated manifest (JSON has no marker)
# folders that hold packages but are not modules of the product
NOT_MODULES = discovery.SKIP_DIRS | {"tests", "test", "docs", "doc", "examples", "benchmarks", "scripts", "templates"}


def candidate_packages(root: Path) -> list[str]:
    """Repo-relative folders of top-level packages (folders with ``__init__.py``), also under ``src/``.

    Only names that can be module names qualify (the manifest schema wants identifiers), symlinked
    folders are skipped (they may point outside the root), and the first folder to claim a name
    (case-insensitively) wins, since two modules cannot share one.
    """
    import pathspec  # on first use: it imports asyncio, which every t4 run would pay for

    excluded = pathspec.GitIgnoreSpec.from_lines(config_mod.load(root).exclude)
    found: list[str] = []
    seen: set[str] = set()
    for parent in (".", "src"):
        base = root / parent
        if not base.is_dir() or base.is_symlink() or (parent == "src" and (base / "__init__.py").is_file()):
            continue
        for entry in sorted(os.scandir(base), key=lambda e: e.name):
            name = entry.name
            folder = posixpath.normpath(posixpath.join(parent, name))
            if (not entry.is_dir(follow_symlinks=False) or name in NOT_MODULES or name.startswith((".", "_"))
                    or not name.isidentifier() or keyword.iskeyword(name)
                    or not (Path(entry.path) / "__init__.py").is_file()
                    or excluded.match_file(folder + "/") or name.casefold() in seen):
                continue
            seen.add(name.casefold())
            found.append(folder)
    return found


def package_description(init_file: Path) -> str:
    """The first paragraph of the package docstring, on one line; read with ``ast``, never imported."""
    try:
        doc = ast.get_docstring(ast.parse(init_file.read_text(encoding="utf-8", errors="replace")))
    except SyntaxError:
        return ""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def manifest_for(name: str, lane: str, description: str, **extra: object) -> dict:
    """A minimal manifest that passes T4's schema: the module's code is its own folder."""
    data: dict = {"schema_version": SCHEMA_VERSION, "module": name, "matrix": {"lane": lane},
                  "layout": {"paths": {"code": "."}}, **extra}
    if description:
        data["description"] = description
    return data


def init(root: Path, apply: bool = False, lane: str = "L2") -> list[Planned]:
    """Plan (and with ``apply`` write) a manifest for every candidate package that has none.

    A package that already has a manifest (in any letter case) is ``skip-exists``, so running it twice
    writes nothing the second time.
    """
    root = root.resolve()
    _check_lane(lane)
    planned = []
    for folder in candidate_packages(root):
        relpath = f"{folder}/{discovery.MANIFEST_NAME}"
        scaffold.safe_target(root, relpath)
        data = manifest_for(posixpath.basename(folder), lane, package_description(root / folder / "__init__.py"))
        existing = scaffold.existing_path(root, relpath)
        planned.append(Planned(relpath, MANIFEST_TEMPLATE, SCHEMA_VERSION, atomic.dumps_json(data).decode("utf-8"),
                               "skip-exists" if existing else "create", existing))
    if apply:
        for item in planned:
            if item.action == "create" and scaffold.existing_path(root, item.relpath) is None:
                atomic.write_text(root / item.relpath, item.content)
    return planned


def check_name(root: Path, name: str) -> Path:
    """The folder for a new module called ``name``, or ValueError saying why the name is refused."""
    if not name or not name.strip():
        raise ValueError("module name is empty")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or os.path.isabs(name):
        raise ValueError(f"module name {name!r} is an absolute path")
    if ".." in name:
        raise ValueError(f"module name {name!r} contains '..'")
    if "/" in name or "\\" in name:
        raise ValueError(f"module name {name!r} contains a path separator: give a name, not a path")
    refused = names.schema_problem(name)  # the rule the manifest schema checks
    if refused:
        raise ValueError(refused)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"module name {name!r} is not a valid Python identifier")
    try:
        folder = scaffold.safe_target(root, name)
    except scaffold.UnsafePath as exc:
        raise ValueError(f"module name {name!r}: {exc}") from None
    existing = scaffold.existing_path(root, name)
    if existing is not None:
        raise FileExistsError(f"{existing} already exists: pick another name")
    return folder


def new_module(root: Path, name: str, lane: str = "L2") -> list[str]:
    """Create module ``name``: folder, package, manifest, docs and tests; return the paths written.

    The owner is the ``TODO-owner`` placeholder, which ``placeholder_problems`` reports until a
    person names the owning team: T4 cannot know it, and a guess would look like a fact.
    """
    root = root.resolve()
    _check_lane(lane)
    folder = check_name(root, name)
    taken = {m.name.casefold(): m for m in Project.load(root).modules}
    if name.casefold() in taken:
        raise FileExistsError(f"module {taken[name.casefold()].name!r} already exists in {taken[name.casefold()].manifest_path}")
    description = f"TODO: say what {name} does."
    data = manifest_for(name, lane, description, ownership={"team": manifest.OWNER_PLACEHOLDER},
                        layout={"paths": {"code": ".", "tests": "tests"}})
    manifest_path = f"{name}/{discovery.MANIFEST_NAME}"
    atomic.write_text(folder / "__init__.py", f'"""{description}"""\n')
    atomic.write_bytes(root / manifest_path, atomic.dumps_json(data))
    written = [f"{name}/__init__.py", manifest_path]
    # built from the manifest directly: in a git work tree discovery only counts tracked manifests,
    # and this one is not tracked until the user adds it
    project = Project.load(root)
    module, problems = manifest.to_module(manifest_path, data, project.config,
                                          manifest.PathResolver(root, project.listing))
    if module is None:
        raise ValueError("; ".join(str(p) for p in problems))
    written += scaffold.apply(project, module, scaffold.plan_docs(project, module), "scaffold")
    written += scaffold.apply(project, module, scaffold.plan_tests(project, module), "test_scaffold")
    return written


def _check_lane(lane: str) -> None:
    if lane not in LANES:
        raise ValueError(f"lane {lane!r} is not one of {', '.join(LANES)}")
