"""What a module's measurement depends on (its key): files, imports, environment, settings."""
# The file list is the ``file_dep`` of the module's measurement tasks (so doit reruns exactly when
# one of them changes) and the digest is recorded with every ledger entry (so a rerun that changes
# nothing is not recorded twice, and a stale observation can be told from a fresh one). The files
# are the module's own, its tests', the conftests above them and every other repository file its
# latest recorded run imported; the spec adds the interpreter and installed distributions and the
# ``[tool.t4]`` settings of that kind of measurement.

from __future__ import annotations

import hashlib
import os
import platform
import posixpath
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from t4tasks.catalog.discovery import MANIFEST_NAME
from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, records
from t4tasks.measure import host
from t4tasks.speed import digests, memo

# files whose content can change what a module's tests do; docs and manifests cannot
INPUT_SUFFIXES = (".py", ".pyi", ".pyx", ".cfg", ".ini", ".toml", ".json", ".yaml", ".yml")


def _wanted(path: str) -> bool:
    return path.endswith(INPUT_SUFFIXES) and posixpath.basename(path) != MANIFEST_NAME


def _ancestor_conftests(project_files: frozenset[str], folder: str) -> list[str]:
    found = []
    while True:
        candidate = "conftest.py" if folder in ("", ".") else f"{folder}/conftest.py"
        if candidate in project_files:
            found.append(candidate)
        if folder in ("", "."):
            return found
        folder = posixpath.dirname(folder)


def module_inputs(project: Project, module: Module, paths: tuple[str, ...]) -> list[str]:
    """Source files of ``module`` plus the files under ``paths`` and the conftest.py files above them."""
    # Nested modules excluded; ``paths`` are its tests or benchmarks; sorted and repo-relative.
    known = _all_inputs(project).get((module.name, paths))  # remembered across runs
    files = list(known) if known is not None else _module_inputs(project, module, paths)
    # the imports recorded by the same kind of measurement as these paths: a bench record's key
    # never holds what the coverage run imported (else a module with both is stale for ever)
    kind = records.BENCH if paths == module.bench_paths and paths != module.test_paths else records.COVERAGE
    imported = recorded_imports(project).get((kind, module.name))
    if not imported:
        return files
    listed = project.listing.file_set
    return sorted({*files, *(p for p in imported if p in listed)})


def own_inputs(project: Project, module: Module, paths: tuple[str, ...]) -> list[str]:
    """``module_inputs`` without what earlier runs imported: the base a new run's imports join."""
    known = _all_inputs(project).get((module.name, paths))
    return list(known) if known is not None else _module_inputs(project, module, paths)


def new_imports(project: Project, module: Module, paths: tuple[str, ...], imported: list[str]) -> list[str]:
    """The listed repository files a run imported beyond the module's own inputs: what its record keeps."""
    own = set(own_inputs(project, module, paths))
    listed = project.listing.file_set
    return sorted({p for p in imported if p in listed and p not in own})


def recorded_imports(project: Project) -> dict[tuple[str, str], list[str]]:
    """Per (kind, module), the files its latest record of that kind says the run imported."""
    def compute() -> dict[tuple[str, str], list[str]]:
        paths = {kind: project.root / project.config.ledger_dir / records.ledger_file(kind)
                 for kind in records.MEASURED_KINDS}
        remembered = project.memo("imports")
        # across runs by the ledgers' versions, so an up-to-date run reads no ledger
        found = remembered.get(memo.key("imports/2", [list(ledger.version(p))[1:] for p in paths.values()]),
                               lambda: _read_imports(paths))
        remembered.save()
        return {(kind, module): files for kind, module, files in found}

    # once per process (a call per module and path list): a measurement run declares every task's
    # inputs before it records anything, and t4 loads the project anew for the run that follows
    return project.remember(("imports",), compute)


def _read_imports(paths: dict[str, Path]) -> list[list]:
    """``[kind, module, imported files]`` from each kind's latest record per module (JSON-able)."""
    found = []
    for kind, path in paths.items():
        if path.is_file():
            for name, entry in sorted(ledger.latest(path).items()):
                imported = entry.get(records.IMPORTS)
                if imported:
                    found.append([kind, name, sorted(imported)])
    return found


def environment_digest(project: Project) -> str:
    """sha256 of the interpreter and every installed distribution with its version."""
    def compute() -> str:
        from importlib import metadata  # on first use only: it costs start-up time
        installed = sorted({(d.metadata["Name"] or "", d.version) for d in metadata.distributions()})
        facts = [sys.version, platform.python_implementation(), installed]
        return hashlib.sha256(orjson.dumps(facts)).hexdigest()

    def remembered() -> str:
        # remembered by the stat of each folder on sys.path: an install or uninstall changes its folder
        folders = []
        for folder in sys.path:
            try:
                folders.append((folder, os.stat(folder or ".").st_mtime_ns))
            except OSError:
                folders.append((folder, None))
        stored = project.memo("environment")
        digest = stored.get(memo.key("environment/1", sys.executable, folders), compute)
        stored.save()
        return digest

    return project.remember(("environment",), remembered)


# the [tool.t4] settings that change what a measurement of each kind observes
MEASURE_SETTINGS = {records.COVERAGE: ("pytest_args", "timeout", "coverage_metric"),
                    records.BENCH: ("pytest_args", "timeout")}


def measure_settings(project: Project, kind: str) -> dict:
    return {name: getattr(project.config, name) for name in MEASURE_SETTINGS[kind]}


def _all_inputs(project: Project) -> dict[tuple[str, tuple[str, ...]], list[str]]:
    """Every module's inputs for its tests and for its benchmarks, once per process."""
    # Computing every list is slow on a large repository; looking them up costs a key each (see
    # docs/PERFORMANCE.md).
    def compute() -> dict:
        remembered = project.memo("inputs")
        shared = (memo.key(project.listing.digest, project.config.digest(), project.claims_digest)
                  if remembered.enabled else "")
        found = {}
        for module in project.modules:
            for paths in (module.test_paths, module.bench_paths):
                # from the memo when nothing they depend on changed: the listing, the folders every
                # module claims, the configuration and the module's own paths
                found[module.name, paths] = remembered.get(
                    lambda m=module, p=paths: memo.key("inputs/1", shared, m.name, m.path, m.code_path, p),
                    lambda m=module, p=paths: _module_inputs(project, m, p))
        remembered.save()
        return found

    return project.remember(("inputs",), compute)


def _module_inputs(project: Project, module: Module, paths: tuple[str, ...]) -> list[str]:
    listing = project.listing
    files = listing.file_set
    outputs = project.excluded_paths(module)
    chosen: set[str] = set()
    for folder in (module.code_path, *paths):
        folder = _through_link(project, folder)
        if folder is None:
            continue
        if folder in files:  # a single test file
            chosen.add(folder)
            continue
        excluded = [p + "/" for p in (*project.foreign_paths(module, folder), *outputs)
                    if p != folder and not folder.startswith(p + "/")]
        chosen.update(p for p in listing.under(folder) if _wanted(p) and not p.startswith(tuple(excluded)))
        chosen.update(_ancestor_conftests(files, posixpath.dirname(folder) if folder != "." else "."))
    return sorted(chosen)


def _through_link(project: Project, folder: str) -> str | None:
    """The path a listed link stands for; None when it leads outside the repository."""
    if folder not in project.listing.symlinks:
        return folder
    # git lists the files of the folder a link points to, never under the link (a link to a folder is
    # not a file to hash)
    real = os.path.relpath(os.path.realpath(project.root / folder), project.root).replace(os.sep, "/")
    # outside: the manifest check reports that
    return None if real == ".." or real.startswith("../") else real


def input_digest(root: Path, files: list[str], spec: dict) -> str:
    """sha256 over each input file's repo-relative path and content plus the measurement spec."""
    h = hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS))
    base = f"{root}{os.sep}"  # a plain concatenation: this runs for every input of every module
    for path in files:
        h.update(f"{path}\0{digests.digest(base + path)}\n".encode())
    return h.hexdigest()


def digest_now(project: Project, remembered: memo.Memo, files: list[str], spec: dict) -> str:
    """``input_digest`` of ``files`` as they are now, remembered by their content ids."""
    # The gates compare every module's recorded digest with this on every run: a sha256 costs a stat
    # each (and the digest store loaded), a content id is a lookup in the listing (see digests).
    root = project.root
    return remembered.get(lambda: memo.key("input-digest/1", spec, list(zip(files, memo.file_parts(root, files)))),
                          lambda: input_digest(root, files, spec))


# How T4 runs a measurement: raised when that changes, so no record made the old way stays current
# (2: tests import under the host's import mode, not importlib's; 3: the files left out stay out
# of subprocesses the tests start in other folders)
METHOD = 3


def coverage_spec(project: Project, module: Module) -> dict:
    """What, besides file contents, defines a coverage measurement of ``module``."""
    return _spec(project, module, records.COVERAGE, module.test_paths)


def bench_spec(project: Project, module: Module) -> dict:
    """What, besides file contents, defines a bench measurement of ``module``."""
    return _spec(project, module, records.BENCH, module.bench_paths)


def _spec(project: Project, module: Module, kind: str, paths: Sequence[str]) -> dict:
    """What, besides file contents, defines a ``kind`` measurement of ``module`` running ``paths``."""
    return {"kind": kind, "method": METHOD, "code": module.code_path, "paths": list(paths),
            "omit": project.nested_paths(module), "ignore": project.foreign_tests(module),
            "settings": measure_settings(project, kind), "env": environment_digest(project),
            "host": host.settings_key(project.root, paths, project.remember, project.listing.file_set)}
