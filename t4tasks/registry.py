"""``MODULE_REGISTRY.json``: every registered module in one deterministic file.

The registry is a pure function of the manifests, the file listing and the configuration: same
inputs, same bytes (sorted keys, no wall clock), so a rerun changes nothing and a diff in review
shows only real changes.
"""

from __future__ import annotations

import bisect
import hashlib
import posixpath

import orjson

from .module import Module
from .project import Project

SCHEMA_VERSION = "t4.registry/1"
REGISTRY_NAME = "MODULE_REGISTRY.json"
DOC_SUFFIXES = (".md", ".me", ".rst")


def manifest_digest(module: Module) -> str:
    """Content digest of a manifest, insensitive to key order and formatting."""
    return hashlib.sha256(orjson.dumps(module.manifest, option=orjson.OPT_SORT_KEYS)).hexdigest()


class DocIndex:
    """Finds a module's documentation files in the sorted file listing without rescanning it."""

    def __init__(self, files: tuple[str, ...]):
        self.files = files  # sorted

    def under(self, folder: str) -> list[str]:
        prefix = "" if folder == "." else folder + "/"
        start = bisect.bisect_left(self.files, prefix)
        found = []
        for path in self.files[start:]:
            if not path.startswith(prefix):
                break
            found.append(path)
        return found

    def docs_of(self, module: Module, nested: list[str]) -> list[str]:
        """Doc files at the top of the module folder and anywhere in its docs folder."""
        docs_dirs = {posixpath.join(module.path, "docs") if module.path != "." else "docs"}
        if module.docs_path and module.docs_path != module.path:
            docs_dirs.add(module.docs_path)
        found = {p for p in self.under(module.path)
                 if posixpath.dirname(p) == ("" if module.path == "." else module.path)
                 and p.endswith(DOC_SUFFIXES)}
        for folder in docs_dirs:
            found.update(p for p in self.under(folder) if p.endswith(DOC_SUFFIXES))
        return sorted(p for p in found if not any(p.startswith(n + "/") for n in nested))


def entry(module: Module, docs: list[str], duplicate_of: str | None = None) -> dict:
    item = {
        "name": module.name,
        "path": module.path,
        "manifest": module.manifest_path,
        "lane": module.lane,
        "owner": module.owner,
        "description": module.description,
        "code": module.code_path,
        "tests": list(module.test_paths),
        "benchmarks": list(module.bench_paths),
        "docs": docs,
        "digest": manifest_digest(module),
    }
    if duplicate_of is not None:
        item["duplicate_of"] = duplicate_of
    return item


def build(project: Project) -> dict:
    """The registry document for a project."""
    index = DocIndex(project.listing.all_files)
    entries = [entry(m, index.docs_of(m, project.nested_paths(m))) for m in project.modules]
    for dup in project.duplicates:
        owner = project.by_name.get(dup.name) or next(
            m for m in project.modules if m.name.casefold() == dup.name.casefold())
        entries.append(entry(dup, index.docs_of(dup, project.nested_paths(dup)), owner.manifest_path))
    entries.sort(key=lambda e: (e["name"].casefold(), e["name"], e["manifest"]))
    return {"schema_version": SCHEMA_VERSION, "module_count": len(entries), "modules": entries}
