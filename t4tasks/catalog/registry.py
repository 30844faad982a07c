"""``MODULE_REGISTRY.json``: every registered module in one deterministic file."""
# The registry is a pure function of the manifests, the file listing and the configuration: same
# inputs, same bytes (sorted keys, no wall clock), so a rerun changes nothing and a diff in review
# shows only real changes.

from __future__ import annotations

import hashlib
import posixpath

import orjson

from t4tasks.catalog.config import DEFAULT_LANE_TARGETS, module_doc_path
from t4tasks.catalog.discovery import FileListing
from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.ledgers import observed
from t4tasks.measure import bench
from t4tasks.speed import memo

SCHEMA_VERSION = "t4.registry/1"
REGISTRY_NAME = "MODULE_REGISTRY.json"
DOC_SUFFIXES = (".md", ".me", ".rst")


def manifest_digest(module: Module) -> str:
    """Content digest of a manifest, insensitive to key order, formatting and observations."""
    # Recording a measurement must not make the registry stale.
    return hashlib.sha256(orjson.dumps(observed.strip(module.manifest), option=orjson.OPT_SORT_KEYS)).hexdigest()


def docs_of(listing: FileListing, module: Module, excluded: list[str], patterns: tuple[str, ...] = ()) -> list[str]:
    """Doc files of a module: in its folder, its docs folder, and where ``doc_patterns`` place them."""
    top = "" if module.path == "." else module.path
    docs_dirs = {posixpath.join(module.path, "docs") if module.path != "." else "docs"}
    if module.docs_path and module.docs_path != module.path:
        docs_dirs.add(module.docs_path)
    found = {p for p in listing.by_folder.get(top, ()) if p.endswith(DOC_SUFFIXES)}
    for folder in docs_dirs:
        found.update(p for p in listing.under(folder) if p.endswith(DOC_SUFFIXES))
    found = {p for p in found if not any(p.startswith(n + "/") for n in excluded)}
    for pattern in patterns:  # ``[tool.t4] doc_patterns`` may place them outside the folder (``docs/{name}.rst``)
        relpath = module_doc_path(module.path, module.name, pattern)
        if relpath in listing.file_set:
            found.add(relpath)
    return sorted(found)


def entry(module: Module, docs: list[str], duplicate_of: str | None = None, default_lane: str | None = None) -> dict:
    """A module's registry entry."""
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
        "coverage_target": module.coverage_target,
        "no_tests": module.no_tests,
        "no_benchmarks": module.no_benchmarks,
        "sla": {key.replace("latency_", ""): value for key, value in bench.sla_targets(module.manifest).items()},
    }
    # a module whose manifest names no lane says which configured lane's target it gets
    if module.lane is None and default_lane in DEFAULT_LANE_TARGETS:
        item["default_lane"] = default_lane
    if duplicate_of is not None:
        item["duplicate_of"] = duplicate_of
    return item


def of(project: Project) -> dict:
    """The registry document, built once per process (registry, meta, validate all need it)."""
    return project.remember(("registry document",), lambda: build(project))


def build(project: Project) -> dict:
    """The registry document for a project."""
    listing = project.listing
    remembered = project.memo("registry")
    shared = memo.key(listing.digest, project.config.digest(), project.claims_digest) if remembered.enabled else ""

    # remembered entry by entry: a one-manifest change rebuilds one entry (see docs/PERFORMANCE.md)
    def remembered_entry(module: Module, duplicate_of: str | None = None) -> dict:
        def key() -> str:
            return memo.key("entry/1", shared, module.manifest_path,
                            memo.file_part(project.root, module.manifest_path), duplicate_of)

        return remembered.get(key, lambda: entry(module, docs_of(listing, module, project.excluded_paths(module),
                                                                 project.config.doc_patterns),
                                                 duplicate_of, project.config.default_lane))

    entries = [remembered_entry(m) for m in project.modules]
    for dup in project.duplicates:
        owner = project.by_name.get(dup.name) or next(
            m for m in project.modules if m.name.casefold() == dup.name.casefold())
        entries.append(remembered_entry(dup, owner.manifest_path))
    remembered.save()
    entries.sort(key=lambda e: (e["name"].casefold(), e["name"], e["manifest"]))
    return {"schema_version": SCHEMA_VERSION, "module_count": len(entries), "modules": entries}
