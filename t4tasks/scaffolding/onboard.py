"""Bringing modules under T4: ``init`` for a whole repository, ``new_module`` for one."""
# ``init`` for a repository that has no manifests, ``new_module`` for a new one.
#
# Both follow the scaffolder's rules: a plan first (``init`` is a dry run unless told to apply), no
# existing file is ever overwritten, every path stays inside the root, and a rerun changes nothing.

from __future__ import annotations

import ast
import keyword
import os
import posixpath
import re
from pathlib import Path


from t4tasks.catalog import config as config_mod, discovery, manifest, names
from t4tasks.catalog.project import Project
from t4tasks.scaffolding import layouts, scaffold
from t4tasks.scaffolding.scaffold import Planned
from t4tasks.speed import atomic

LANES = ("L0", "L1", "L2", "L3", "L4", "L5")
SCHEMA_VERSION = "1.0.0"
MANIFEST_TEMPLATE = "manifest"  # Planned.template of a generated manifest (JSON has no marker)
RULE = re.compile(r"^([=\-~^*#+`'\".:_])\1{2,}$")  # a reStructuredText heading's over- or underline


def package_description(init_file: Path) -> str:
    """The first prose paragraph of the package docstring, on one line; read with ``ast``, never imported."""
    try:
        doc = ast.get_docstring(ast.parse(init_file.read_text(encoding="utf-8", errors="replace")))
    except (OSError, SyntaxError):
        return ""
    for paragraph in (doc or "").strip().split("\n\n"):
        lines = [line for line in paragraph.splitlines() if line.strip()]
        # a reStructuredText heading (a line over or under a rule of ``=``, ``-``, ...) is no prose
        if lines and not any(RULE.match(line.strip()) for line in lines):
            return " ".join(" ".join(lines).split())
    return ""


def manifest_for(name: str, lane: str, description: str, **extra: object) -> dict:
    """A minimal manifest that passes T4's schema: the module's code is its own folder."""
    data: dict = {"schema_version": SCHEMA_VERSION, "module": name, "matrix": {"lane": lane},
                  "layout": {"paths": {"code": "."}}, **extra}
    if description:
        data["description"] = description
    return data


def proposals(root: Path, depth: int = layouts.DEFAULT_DEPTH) -> tuple[list[layouts.Proposal], list[layouts.Skipped]]:
    """The modules ``init`` would write manifests for, and the folders it passes over with why."""
    import pathspec  # on first use: it imports asyncio, which every t4 run would pay for

    excluded = pathspec.GitIgnoreSpec.from_lines(config_mod.load(root).exclude)
    return layouts.detect(root, discovery.list_files(root), lambda folder: excluded.match_file(folder + "/"), depth)


def _manifest_of(root: Path, proposal: layouts.Proposal, lane: str) -> dict:
    """The manifest of a proposed module: every path written out, relative to its folder."""
    def rel(path: str) -> str:
        return posixpath.relpath(path, proposal.folder)

    paths: dict = {"code": rel(proposal.code)}
    if proposal.tests:
        paths["tests"] = rel(proposal.tests[0]) if len(proposal.tests) == 1 else [rel(t) for t in proposal.tests]
    if proposal.benchmarks:
        paths["benchmarks"] = rel(proposal.benchmarks[0])
    if proposal.docs:
        paths["docs"] = rel(proposal.docs)
    description = proposal.description or package_description(root / proposal.code / "__init__.py")
    return manifest_for(proposal.name, lane, description, layout={"paths": paths})


def init(root: Path, apply: bool = False, lane: str = "L2", depth: int = layouts.DEFAULT_DEPTH) -> list[Planned]:
    """Plan (and with ``apply`` write) a manifest for every proposed module that has none."""
    # A folder that already has a manifest (in any letter case) is ``skip-exists``, so running it
    # twice writes nothing the second time.
    return plan(root, lane, depth, apply)[0]


def plan(root: Path, lane: str = "L2", depth: int = layouts.DEFAULT_DEPTH, apply: bool = False
         ) -> tuple[list[Planned], list[layouts.Proposal], list[layouts.Skipped]]:
    """``init``'s plan with what it was made from: the proposals and the skipped folders."""
    root = root.resolve()
    _check_lane(lane)
    if depth < 1:
        raise ValueError(f"depth {depth} must be at least 1 (1 = top-level packages only)")
    found, skipped = proposals(root, depth)
    planned = []
    for proposal in found:
        relpath = posixpath.normpath(f"{proposal.folder}/{discovery.MANIFEST_NAME}")
        scaffold.safe_target(root, relpath)
        existing = scaffold.existing_path(root, relpath)
        content = atomic.dumps_json(_manifest_of(root, proposal, lane)).decode("utf-8")
        planned.append(Planned(relpath, MANIFEST_TEMPLATE, SCHEMA_VERSION, content,
                               "skip-exists" if existing else "create", existing))
    if apply:
        for item in planned:
            if item.action == "create" and scaffold.existing_path(root, item.relpath) is None:
                atomic.write_text(root / item.relpath, item.content)
    return planned, found, skipped


def format_proposals(found: list[layouts.Proposal], skipped: list[layouts.Skipped]) -> str:
    """module → code → tests → benchmarks → docs, one line each, then what was skipped and why."""
    lines = [f"{p.name} ({p.layout}) → code {p.code} → tests {', '.join(p.tests) or '-'}"
             f" → benchmarks {', '.join(p.benchmarks) or '-'} → docs {p.docs or '-'}" for p in found]
    lines += [f"skipped {s.path}/: {s.reason}" for s in sorted(skipped, key=lambda s: s.path)]
    return "\n".join(lines) + "\n"


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
    """Create module ``name``: folder, package, manifest, docs and tests; return the paths written."""
    root = root.resolve()
    _check_lane(lane)
    folder = check_name(root, name)
    taken = {m.name.casefold(): m for m in Project.load(root).modules}
    if name.casefold() in taken:
        raise FileExistsError(f"module {taken[name.casefold()].name!r} already exists in {taken[name.casefold()].manifest_path}")
    description = f"TODO: say what {name} does."
    # the owner is the ``TODO-owner`` placeholder, which ``placeholder_problems`` reports until a
    # person names the owning team: T4 cannot know it, and a guess would look like a fact
    data = manifest_for(name, lane, description, ownership={"team": manifest.OWNER_PLACEHOLDER},
                        layout={"paths": {"code": ".", "tests": "tests"}})
    manifest_path = f"{name}/{discovery.MANIFEST_NAME}"
    atomic.write_text(folder / "__init__.py", f'"""{description}"""\n')
    atomic.write_bytes(root / manifest_path, atomic.dumps_json(data))
    written = [f"{name}/__init__.py", manifest_path]
    # built from the data just written: no second read of the manifest, and a problem stops here
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
