"""Module docs and tests from jinja2 templates."""
# Planned first, written only on request, never clobbering.
#
# Scaffolding runs on real repositories people care about, so the rules are strict:
#
# * planning writes nothing; ``format_plan`` shows exactly what ``apply`` would write;
# * an existing file is never overwritten, and names that differ only in case count as existing
#   (``docs/api.md`` blocks ``docs/API.md``: on a case-insensitive checkout they are one file);
# * ``update=True`` refreshes a file only when it still is an untouched scaffold (its marker's hash
#   matches its content) and the template it came from changed; a human edit is never touched;
# * every target path stays inside the repository root, lexically and through symlinks;
# * ``apply`` writes atomically and appends one ledger entry per module after the files are in
#   place, so the ledger never claims a file that is not there.
#
# A template's version is its declared ``{# version: N #}`` plus a hash of its source
# (``1+3fa2c9d1e0b4``): a user who customises a template in the repository's ``templates/`` without
# bumping the number still gets untouched scaffolds refreshed, and rendering on another day (new
# dates) is not a template change.

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import os
import posixpath
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from t4tasks import paths
from t4tasks.catalog import templates
from t4tasks.catalog.manifest import PathResolver
from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, records
from t4tasks.scaffolding import marker
from t4tasks.paths import UnsafePath  # noqa: F401  (scaffold.UnsafePath, as callers spell it)
from t4tasks.speed import atomic

if TYPE_CHECKING:  # jinja2 is imported on first render: start-up time matters for every t4 run
    import jinja2

DOC_TEMPLATES = (
    "module/README.md",
    "module/CHANGELOG.md",
    "module/docs/API.md",
    "module/docs/ARCHITECTURE.md",
    "module/docs/CONTRIBUTING.md",
    "module/AGENTS.md",
    "module/CONTEXT.md",
)
TEST_TEMPLATES = (
    "tests/conftest.py",
    "tests/test_smoke.py",
    "tests/test_unit.py",
    "tests/test_integration.py",
)
KINDS = records.SCAFFOLD_KINDS
WRITES = ("create", "update")
VERSION_COMMENT = re.compile(r"\{#\s*version:\s*(\S+)\s*#\}")


@dataclass(frozen=True)
class Planned:
    relpath: str           # repo-relative POSIX path the action applies to
    template: str          # template id, e.g. "module/README.md"
    version: str           # template version recorded in the marker
    content: str           # the stamped file content a write would produce
    action: str            # "create" | "update" | "skip-exists" | "skip-edited"
    existing: str | None = None  # the path already there (may differ in case from relpath)
    diff: str = ""         # unified diff of an "update", shown before anything is written


@dataclass(frozen=True)
class PublicName:
    name: str
    kind: str       # "class", "function", "constant", or "name" (in __all__, defined elsewhere)
    signature: str  # "(a, b=1)" for functions, "" otherwise
    summary: str    # first line of the docstring, "" when there is none


def utc_today() -> date:
    """Scaffolds carry real dates; UTC so two machines scaffolding at once agree on the day."""
    return datetime.now(timezone.utc).date()


def safe_target(root: Path, relpath: str) -> Path:
    """``root / relpath``, or UnsafePath when it leaves the root (see ``paths.inside``)."""
    return paths.inside(root, relpath)


def existing_path(root: Path, relpath: str) -> str | None:
    """The entry already at ``relpath``, matched case-insensitively component by component."""
    current = root
    actual = []
    # every component, not just the file name: ``Docs/api.md`` also blocks ``docs/API.md``
    for part in relpath.split("/"):
        try:
            names = os.listdir(current)
        except (FileNotFoundError, NotADirectoryError):
            return None
        # a symlink counts as existing even when dangling: replacing one is overwriting
        if part not in names:
            folded = sorted(n for n in names if n.casefold() == part.casefold())
            if not folded:
                return None
            part = folded[0]
        actual.append(part)
        current = current / part
    return "/".join(actual)


def public_names(source: str) -> list[PublicName]:
    """The names a module offers, read with ``ast`` so scaffolding never runs the module's code."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    defined: dict[str, PublicName] = {}
    declared: list[str] | None = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined[node.name] = PublicName(node.name, "function", f"({ast.unparse(node.args)})", _summary(node))
        elif isinstance(node, ast.ClassDef):
            defined[node.name] = PublicName(node.name, "class", "", _summary(node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "__all__":
                    declared = _literal_strings(node.value)
                elif isinstance(target, ast.Name):
                    defined[target.id] = PublicName(target.id, "constant", "", "")
    if declared is not None:  # ``__all__``, a literal list or tuple of strings, wins
        return [defined.get(name, PublicName(name, "name", "", "")) for name in declared]
    # imports are left out: without ``__all__`` nobody can tell a re-export from a helper the module merely uses
    return [item for name, item in defined.items() if not name.startswith("_")]


def _summary(node: ast.AST) -> str:
    doc = ast.get_docstring(node)
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""


def _literal_strings(node: ast.expr | None) -> list[str] | None:
    if isinstance(node, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return [e.value for e in node.elts]
    return None


def import_location(root: Path, module: Module) -> tuple[str, str]:
    """(dotted import name, repo-relative folder that must be on ``sys.path`` to import it)."""
    code = module.code_path
    if code == ".":
        return module.name, "."
    parts = [posixpath.basename(code)]  # a folder without ``__init__.py`` is a namespace package named after it
    parent = posixpath.dirname(code)
    # climb while the parent is a package: ``src/shop/payments`` with ``__init__.py`` files in ``shop``
    # and ``payments`` imports as ``shop.payments`` from ``src``
    while parent and (root / parent / "__init__.py").is_file():
        parts.insert(0, posixpath.basename(parent))
        parent = posixpath.dirname(parent)
    return ".".join(parts), parent or "."


def tests_dir(project: Project, module: Module) -> str:
    """Where the module's tests live."""
    for path in module.test_paths:
        if (project.root / path).is_dir():
            return path
    layout = module.manifest.get("layout")
    paths = layout.get("paths") if isinstance(layout, dict) else None
    declared = paths.get("tests") if isinstance(paths, dict) else None
    if isinstance(declared, str) and declared:
        resolved = PathResolver(project.root, project.listing).resolve(module.path, declared)
        if resolved is None:
            raise UnsafePath(f"{module.manifest_path}: layout.paths.tests {declared!r} leaves the repository root")
        return resolved
    return posixpath.normpath(posixpath.join(module.path, "tests"))  # T4's first default pattern


@functools.lru_cache(maxsize=8)
def _environment(root: Path, language: str = "markdown") -> jinja2.Environment:
    return templates.environment(root, language)


@functools.lru_cache(maxsize=64)
def _compiled(root: Path, source: str, language: str) -> jinja2.Template:
    """Compiling is most of the cost of planning a module, so each distinct source compiles once."""
    # Keyed by the source itself rather than jinja's name cache, which would miss a repository
    # override added after the packaged template was loaded.
    return _environment(root, language).from_string(source)


def _template(root: Path, template: str) -> tuple[jinja2.Template, str, str]:
    """(compiled template, version, file it came from)."""
    env = _environment(root)
    source, filename, _ = env.loader.get_source(env, f"{template}.j2")
    declared = VERSION_COMMENT.search(source)
    digest = hashlib.sha256(source.replace("\r\n", "\n").encode("utf-8")).hexdigest()[:12]
    language = "python" if template.endswith(".py") else "markdown"
    # version ``<declared>+<source hash>``: see the comments atop the module for why both parts
    return _compiled(root, source, language), f"{declared[1] if declared else '0'}+{digest}", filename


def plan_docs(project: Project, module: Module, today: date | None = None, update: bool = False) -> list[Planned]:
    """What scaffolding the module's docs would do; writes nothing."""
    targets = {t: posixpath.normpath(posixpath.join(module.path, t.removeprefix("module/"))) for t in DOC_TEMPLATES}
    return _plan(project, module, targets, today or utc_today(), update)


def plan_tests(project: Project, module: Module, today: date | None = None, update: bool = False) -> list[Planned]:
    """What scaffolding the module's tests would do; writes nothing."""
    folder = tests_dir(project, module)
    leaf = module.name.replace(".", "_")
    targets = {}
    for template in TEST_TEMPLATES:
        name = template.removeprefix("tests/")
        # named after the module (``test_payments_smoke.py``): identically named test files in several
        # folders without ``__init__.py`` make one pytest run over the repository fail with "import
        # file mismatch", and a shared ``tests/`` folder would let only the first module have one
        if name != "conftest.py":
            name = f"test_{leaf}_{name.removeprefix('test_')}"
        targets[template] = posixpath.normpath(posixpath.join(folder, name))
    return _plan(project, module, targets, today or utc_today(), update)


def _plan(project: Project, module: Module, targets: dict[str, str], today: date, update: bool) -> list[Planned]:
    root = project.root
    for relpath in targets.values():
        safe_target(root, relpath)
    existing = {t: existing_path(root, relpath) for t, relpath in targets.items()}
    # links between docs point at the file that will really be there (an existing case variant too)
    located = {t: existing[t] or relpath for t, relpath in targets.items()}
    context = _context(project, module, today)
    planned = []
    for template, relpath in targets.items():
        compiled, version, filename = _template(root, template)
        here = located[template]
        try:
            text = compiled.render(**context, link=lambda key, here=here: _link(located, here, key))
        except Exception as exc:  # jinja2.TemplateError, and what a template's own code raises
            raise ValueError(f"{filename}: cannot render for module {module.name!r}: {exc}") from exc
        content = marker.stamp(text, template, version, python=relpath.endswith(".py"))
        planned.append(_classify(root, relpath, existing[template], template, version, content, update))
    return planned


def _link(located: dict[str, str], here: str, template: str) -> str:
    """Relative link from the doc at ``here`` to the file another template produces."""
    return posixpath.relpath(located[template], posixpath.dirname(here) or ".")


def _context(project: Project, module: Module, today: date) -> dict:
    root = project.root
    import_name, import_root = import_location(root, module)
    init = root / module.code_path / "__init__.py"
    names = public_names(init.read_text(encoding="utf-8", errors="replace")) if init.is_file() else []
    folder = tests_dir(project, module)
    nested = project.nested_paths(module)
    sources = [p for p in project.listing.under(module.code_path)
               if p.endswith(".py") and not p.startswith(folder + "/")
               and not any(p.startswith(n + "/") for n in nested)]
    target = module.coverage_target
    if target is None and module.lane in project.config.lanes:
        target = project.config.lanes[module.lane]
    return {
        "module": module,
        "today": today.isoformat(),
        "import_name": import_name,
        "import_root": posixpath.relpath(import_root, folder),  # from the tests folder
        "public_names": names,
        "tests_dir": folder,
        "source_files": [posixpath.relpath(p, module.path) for p in sources],
        "coverage_target": target,
    }


def _classify(root: Path, relpath: str, existing: str | None, template: str, version: str,
              content: str, update: bool) -> Planned:
    if existing is None:
        return Planned(relpath, template, version, content, "create")
    path = root / existing
    try:
        current = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Planned(relpath, template, version, content, "skip-exists", existing)
    found, untouched = marker.read(current)
    if found is None or found.template != template:
        return Planned(relpath, template, version, content, "skip-exists", existing)
    if not untouched:
        return Planned(relpath, template, version, content, "skip-edited", existing)
    if not update or found.version == version or current == content:
        return Planned(relpath, template, version, content, "skip-exists", existing)
    diff = "".join(difflib.unified_diff(current.splitlines(keepends=True), content.splitlines(keepends=True),
                                        fromfile=f"a/{existing}", tofile=f"b/{existing}"))
    return Planned(existing, template, version, content, "update", existing, diff)


def apply(project: Project, module: Module, planned: list[Planned], kind: str) -> list[str]:
    """Write the planned creates and updates; return the repo-relative paths written."""
    if kind not in KINDS:
        raise ValueError(f"unknown scaffold kind {kind!r} (expected one of {', '.join(KINDS)})")
    root = project.root
    files: dict[str, dict[str, str]] = {}
    for item in planned:
        if item.action not in WRITES:
            continue
        path = safe_target(root, item.relpath)
        # re-checked right before writing, as the tree may have changed since the plan was made: a
        # file that appeared is not overwritten, a scaffold edited meanwhile is not refreshed
        if item.action == "create" and existing_path(root, item.relpath) is not None:
            continue
        if item.action == "update" and not _still_untouched(path, item.template):
            continue
        atomic.write_text(path, item.content)
        files[item.relpath] = {
            "action": item.action,
            "template": item.template,
            "version": item.version,
            "sha256": hashlib.sha256(item.content.encode("utf-8")).hexdigest(),
        }
    # one ledger entry per module, only when something was written: applying twice appends nothing
    if files:
        digest = hashlib.sha256(repr(sorted((p, f["sha256"]) for p, f in files.items())).encode()).hexdigest()
        values = {
            "files": files,
            "created": sorted(p for p, f in files.items() if f["action"] == "create"),
            "updated": sorted(p for p, f in files.items() if f["action"] == "update"),
        }
        record = ledger.new_record(kind, module.name, values, digest, git_commit=ledger.git_head(root))
        ledger.append(root / project.config.ledger_dir / records.ledger_file(kind), record)
    return sorted(files)


def _still_untouched(path: Path, template: str) -> bool:
    try:
        found, untouched = marker.read(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
    return found is not None and found.template == template and untouched


def format_plan(planned: list[Planned]) -> str:
    """The plan as people review it: each write, each refresh's diff, and exact counts."""
    lines = []
    for item in planned:
        if item.action in WRITES:
            lines.append(f"{item.action:<7} {item.relpath}  ({item.template} v{item.version})")
    for item in planned:
        if item.diff:
            lines.append(item.diff.rstrip("\n"))
    counts = Counter(item.action for item in planned)
    lines.append(f"{counts['create']} to create, {counts['update']} to update, "
                 f"{counts['skip-exists']} skipped (exist), {counts['skip-edited']} skipped (edited by hand)")
    return "\n".join(lines) + "\n"
