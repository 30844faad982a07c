"""Everything T4 knows about one target repository, loaded once per process."""
# Task creators, gates and the CLI all ask the same ``Project`` so a run lists the repository,
# parses each manifest and resolves each module exactly once.

from __future__ import annotations

import bisect
import functools
import gc
import posixpath
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from t4tasks import paths
from t4tasks.catalog import config as config_mod, discovery, manifest
from t4tasks.catalog.module import Module
from t4tasks.ledgers import observed
from t4tasks.problems import Problem, listed
from t4tasks.speed import digests, memo

T = TypeVar("T")
_WARNED: set[tuple[str, ...]] = set()


@dataclass
class Project:
    root: Path
    config: config_mod.Config
    listing: discovery.FileListing
    manifest_paths: list[str]

    @classmethod
    def load(cls, root: Path) -> "Project":
        """The repository's configuration and file listing; manifests are parsed on first use."""
        # An up-to-date run can decide from ``key`` alone (see docs/PERFORMANCE.md).
        root = root.resolve()
        cfg = config_mod.load(root)
        leaving = paths.check_outputs(root, [cfg.generated_dir, cfg.ledger_dir, cfg.trends_dir, cfg.state_dir,
                                             ".github"])
        if leaving:
            raise config_mod.ConfigError(leaving)
        listing = discovery.list_files(root)
        digests.use_git(root, listing.clean_blobs, listing.listed_at)
        manifests = discovery.find_manifests(listing, cfg.manifest_globs, cfg.exclude)
        untracked = discovery.untracked_manifests(listing, manifests)
        if untracked and (str(root), *untracked) not in _WARNED:
            _WARNED.add((str(root), *untracked))  # once per process: doit loads the project more than once
            print(f"t4: warning: {len(untracked)} manifest(s) not tracked by git, counted anyway "
                  f"(git add them to commit): {listed(untracked, 10)}", file=sys.stderr)
        return cls(root, cfg, listing, manifests)

    @functools.cached_property
    def key(self) -> str:
        """One id for everything the modules and the registry are made of: equal keys, equal modules."""
        return memo.key("project/1", memo.code_id(), self.listing.digest, self.config.digest(),
                        memo.file_parts(self.root, self.manifest_paths))

    @functools.cached_property
    def _parsed(self) -> tuple[list[Module], list[Module], list[Problem]]:
        # Parsing builds one dict tree per manifest and nothing cyclic: the cyclic garbage
        # collector would only re-traverse them, again and again (a large share of a large
        # repository's load; see docs/PERFORMANCE.md). Pause it, then freeze what was loaded so
        # later collections skip it too.
        enabled = gc.isenabled()
        gc.disable()
        try:
            modules: list[Module] = []
            problems: list[Problem] = []
            for module, module_problems in _read_modules(self.root, self.config, self.listing, self.manifest_paths):
                problems += module_problems
                if module is not None:
                    modules.append(module)
            modules, duplicates, duplicate_problems = _split_duplicates(modules)
        finally:
            if enabled:
                gc.enable()
        gc.freeze()
        return modules, duplicates, sorted(problems + duplicate_problems)

    @property
    def modules(self) -> list[Module]:
        """Registrable modules with unique names, sorted by name."""
        return self._parsed[0]

    @property
    def duplicates(self) -> list[Module]:
        """Later manifests reusing a name: registered, never measured."""
        return self._parsed[1]

    @property
    def problems(self) -> list[Problem]:
        """Unusable manifests and duplicate names, and why."""
        return self._parsed[2]

    @functools.cached_property
    def by_name(self) -> dict[str, Module]:
        return {m.name: m for m in self.modules}

    def remember(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()``, once per process for ``key``."""
        remembered = self.__dict__.setdefault("_remembered", {})
        # a key names the versions of the files the value is made from (their stat): a change recomputes it
        if key not in remembered:
            remembered[key] = compute()
        return remembered[key]

    def remembers(self, key: tuple) -> bool:
        """Whether this process has remembered a value for ``key``."""
        return key in self.__dict__.get("_remembered", {})

    def schema_problems(self) -> list[Problem]:
        """Schema violations of the registered modules' manifests (they stay registered)."""
        return self._manifest_checks(placeholders=False)

    def all_problems(self) -> list[Problem]:
        """Every manifest problem: unusable manifests first, then schema violations and placeholders."""
        # A placeholder is an owner or description still ``TODO``.
        return sorted(self.problems + self._manifest_checks(placeholders=True))

    def _manifest_checks(self, placeholders: bool) -> list[Problem]:
        """Manifest problems, remembered by each manifest's content and T4's code (schema included)."""
        # Validation is not free per manifest (see docs/PERFORMANCE.md): only changed manifests are
        # read and validated again.
        remembered = self.memo("manifest-checks")
        found: list[Problem] = []
        for module, registered in [*((m, True) for m in self.modules), *((m, False) for m in self.duplicates)]:
            relpath = module.manifest_path
            check_placeholders = placeholders and registered

            def check(module: Module = module, relpath: str = relpath, check_placeholders: bool = check_placeholders) -> list:
                problems = manifest.validate(relpath, module.manifest)
                if check_placeholders:
                    problems += manifest.placeholder_problems(relpath, module.manifest)
                return [[p.path, p.message, p.line] for p in problems]

            def key(relpath: str = relpath, check_placeholders: bool = check_placeholders) -> str:
                return memo.key("manifest-checks/1", relpath, memo.file_part(self.root, relpath), check_placeholders)

            found += [Problem(*p) for p in remembered.get(key, check)]
        remembered.save()
        return sorted(found)

    @functools.cached_property
    def _module_paths(self) -> list[str]:
        return sorted({m.path for m in self.modules})

    @functools.cached_property
    def claims_digest(self) -> str:
        """One id for where every module lives and which folders it claims: what decides which files are whose."""
        # A manifest edit that moves tests changes it, a description edit does not.
        return memo.key(self._module_paths, self._claims)

    def nested_paths(self, module: Module) -> list[str]:
        """Folders of other modules inside this module's folder: their files are theirs, not ours."""
        prefix = "" if module.path == "." else module.path + "/"
        paths = self._module_paths
        found = []
        # an index walk from the bisection point: islice(paths, start, None) would step through
        # the first ``start`` items on every call, quadratic over every module
        for i in range(bisect.bisect_left(paths, prefix), len(paths)):
            path = paths[i]
            if not path.startswith(prefix):
                break
            if path != module.path:
                found.append(path)
        return found

    @functools.cached_property
    def _claims(self) -> list[tuple[str, str]]:
        """Every folder a module claims (its own, its tests, its benchmarks), sorted by path."""
        claims = set()
        for m in self.modules:
            claims.update((p, m.name) for p in (m.path, *m.test_paths, *m.bench_paths))
        return sorted(claims)

    def foreign_paths(self, module: Module, folder: str) -> list[str]:
        """Paths strictly inside ``folder`` that other modules claim."""
        # ``tests/a/b`` inside module ``a``'s ``tests/a`` belongs to ``a.b``, so it is neither
        # ``a``'s input nor ``a``'s tests.
        prefix = "" if folder == "." else folder + "/"
        claims = self._claims
        found = []
        for i in range(bisect.bisect_left(claims, (prefix, "")), len(claims)):
            path, owner = claims[i]
            if not path.startswith(prefix):
                break
            if path != folder and owner != module.name:
                found.append(path)
        return found

    def foreign_tests(self, module: Module) -> list[str]:
        """Other modules' paths inside this module's test and benchmark folders (to --ignore)."""
        return sorted({p for folder in (*module.test_paths, *module.bench_paths)
                       for p in self.foreign_paths(module, folder)})

    @functools.cached_property
    def output_paths(self) -> list[str]:
        """T4's own output folders: never a module's docs or inputs."""
        cfg = self.config
        return [posixpath.normpath(d) for d in (cfg.generated_dir, cfg.ledger_dir, cfg.trends_dir, cfg.state_dir)]

    def excluded_paths(self, module: Module) -> list[str]:
        """Folders inside ``module`` whose files are not its own: nested modules and T4's outputs."""
        # A module at the root must not count its generated registry as docs or inputs.
        return sorted(set(self.nested_paths(module) + self.output_paths))

    def memo(self, name: str) -> memo.Memo:
        """The memo ``name`` under the state folder (see ``memo``)."""
        return memo.Memo(self.root / self.config.state_dir / "memo" / f"{name}.json")

    def state_dir(self) -> Path:
        """``.t4/`` (or the configured folder), created with a .gitignore so it is never committed."""
        path = self.root / self.config.state_dir
        ignore = path / ".gitignore"
        if not ignore.exists():
            path.mkdir(parents=True, exist_ok=True)
            ignore.write_text("*\n")
        return path


def _read_modules(root: Path, cfg: config_mod.Config, listing: discovery.FileListing,
                  manifest_paths: list[str]) -> list[tuple[Module | None, list[Problem]]]:
    """Each manifest as a Module (or None) and its problems."""
    remembered = memo.Memo(root / cfg.state_dir / "memo" / "modules.json")
    resolver: list[manifest.PathResolver] = []  # built on the first miss: it indexes every folder

    parsed: dict[str, Module] = {}

    def parse(relpath: str) -> list:
        data, problems = manifest.read(root, relpath)
        module = None
        if data is not None:
            if not resolver:
                resolver.append(manifest.PathResolver(root, listing))
            module, more = manifest.to_module(relpath, data, cfg, resolver[0])
            problems += more
        if module is not None:
            parsed[relpath] = module  # it holds the manifest already: no second read
        return [module.to_json() if module else None, [[p.path, p.message, p.line] for p in problems]]

    found = []
    for relpath in manifest_paths:
        # a Module depends on its manifest's content, the listing (which of its paths exist) and the
        # configuration: remembered by those, a run after a one-manifest change parses one manifest
        fields, problems = remembered.get(
            lambda relpath=relpath: memo.key("module/1", relpath, memo.file_part(root, relpath), listing.digest, cfg.digest()),
            lambda relpath=relpath: parse(relpath))
        module = parsed.get(relpath) or (Module.from_json(fields, str(root / relpath)) if fields else None)
        found.append((module, [Problem(*p) for p in problems]))
    remembered.save()
    return found


def _split_duplicates(modules: list[Module]) -> tuple[list[Module], list[Module], list[Problem]]:
    """Names equal (or equal but for case) collide."""
    groups: dict[str, list[Module]] = {}
    for module in sorted(modules, key=lambda m: m.manifest_path):
        groups.setdefault(module.name.casefold(), []).append(module)
    kept: list[Module] = []
    duplicates: list[Module] = []
    problems = []
    for group in groups.values():
        # the manifest that holds measurements (an observed block, written only from the ledgers) keeps
        # the name, else the first by path: a new folder that sorts earlier cannot take over a
        # measured module's name and history
        if len(group) > 1:  # only colliding manifests are read again
            group = sorted(group, key=lambda m: (not (observed.coverage_of(m.manifest) or observed.bench_of(m.manifest)),
                                                 m.manifest_path))
        first, *others = group
        kept.append(first)
        for module in others:
            # visible in the registry (nothing is silently dropped) but no per-module tasks:
            # ``coverage:<name>`` would be ambiguous
            duplicates.append(module)
            if first.name == module.name:
                problems.append(Problem(module.manifest_path, f"/module: duplicate module name {module.name!r} (also in {first.manifest_path})"))
            else:
                problems.append(Problem(module.manifest_path, f"/module: module name {module.name!r} differs only in case from {first.name!r} in {first.manifest_path}"))
    return sorted(kept, key=lambda m: m.name), duplicates, problems


@functools.lru_cache(maxsize=8)
def load_cached(root: str) -> Project:
    """One Project per root per process (doit calls every task creator in the same process)."""
    return Project.load(Path(root))
