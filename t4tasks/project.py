"""Everything T4 knows about one target repository, loaded once per process.

Task creators, gates and the CLI all ask the same ``Project`` so a run lists the repository,
parses each manifest and resolves each module exactly once.
"""

from __future__ import annotations

import bisect
import functools
import gc
import itertools
import posixpath
from dataclasses import dataclass
from pathlib import Path

from . import config as config_mod
from . import discovery, manifest
from .module import Module
from .problems import Problem


@dataclass
class Project:
    root: Path
    config: config_mod.Config
    listing: discovery.FileListing
    manifest_paths: list[str]
    modules: list[Module]          # registrable modules with unique names, sorted by name
    duplicates: list[Module]       # later manifests reusing a name: registered, never measured
    problems: list[Problem]        # unusable manifests and duplicate names, and why

    @classmethod
    def load(cls, root: Path) -> "Project":
        # Loading builds one dict tree per manifest and nothing cyclic: the cyclic garbage
        # collector would only re-traverse them, again and again (~40 % of a 10,000-module
        # load). Pause it, then freeze what was loaded so later collections skip it too.
        enabled = gc.isenabled()
        gc.disable()
        try:
            project = cls._load(root)
        finally:
            if enabled:
                gc.enable()
        gc.freeze()
        return project

    @classmethod
    def _load(cls, root: Path) -> "Project":
        root = root.resolve()
        cfg = config_mod.load(root)
        listing = discovery.list_files(root)
        manifest_paths = discovery.find_manifests(listing, cfg.manifest_globs, cfg.exclude)
        resolver = manifest.PathResolver(root, listing)
        modules: list[Module] = []
        problems: list[Problem] = []
        for relpath in manifest_paths:
            data, read_problems = manifest.read(root, relpath)
            problems += read_problems
            if data is None:
                continue
            module, module_problems = manifest.to_module(relpath, data, cfg, resolver)
            problems += module_problems
            if module is not None:
                modules.append(module)
        modules, duplicates, duplicate_problems = _split_duplicates(modules)
        return cls(root, cfg, listing, manifest_paths, modules, duplicates,
                   sorted(problems + duplicate_problems))

    @functools.cached_property
    def by_name(self) -> dict[str, Module]:
        return {m.name: m for m in self.modules}

    @functools.cached_property
    def registry(self) -> dict:
        """The registry document, built once per process (registry, meta, validate all need it)."""
        from . import registry  # registry imports project: import at first use

        return registry.build(self)

    @functools.cached_property
    def summaries(self) -> dict:
        """MODULE_SUMMARIES.json's content, built once per process (the task and validate need it)."""
        from . import summaries

        return summaries.document(self.root, self.registry)

    def schema_problems(self) -> list[Problem]:
        """Schema violations of the registered modules' manifests (they stay registered).

        Validation costs about a millisecond per manifest, so results are remembered under the
        state folder by manifest content and schema: only changed manifests are validated again.
        """
        cache = manifest.SchemaCache(self.state_dir() / "schema-cache.json")
        found: list[Problem] = []
        for module in self.modules + self.duplicates:
            found += cache.validate(module.manifest_path, module.manifest)
        cache.save()
        return sorted(found)

    def all_problems(self) -> list[Problem]:
        """Every manifest problem: unusable manifests first-class, schema violations too."""
        from .onboard import placeholder_problems  # onboarding owns the placeholder spelling

        placeholders = [p for m in self.modules for p in placeholder_problems(m.manifest_path, m.manifest)]
        return sorted(self.problems + self.schema_problems() + placeholders)

    @functools.cached_property
    def _module_paths(self) -> list[str]:
        return sorted({m.path for m in self.modules})

    def nested_paths(self, module: Module) -> list[str]:
        """Folders of other modules inside this module's folder: their files are theirs, not ours."""
        prefix = "" if module.path == "." else module.path + "/"
        paths = self._module_paths
        found = []
        for path in itertools.islice(paths, bisect.bisect_left(paths, prefix), None):
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
        """Paths strictly inside ``folder`` that other modules claim: ``tests/a/b`` inside module
        ``a``'s ``tests/a`` belongs to ``a.b``, so it is neither ``a``'s input nor ``a``'s tests."""
        prefix = "" if folder == "." else folder + "/"
        claims = self._claims
        found = []
        for path, owner in itertools.islice(claims, bisect.bisect_left(claims, (prefix, "")), None):
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
        """Folders inside ``module`` whose files are not its own: nested modules and T4's outputs
        (a module at the root must not count its generated registry as docs or inputs)."""
        return sorted(set(self.nested_paths(module) + self.output_paths))

    def state_dir(self) -> Path:
        """``.t4/`` (or the configured folder), created with a .gitignore so it is never committed."""
        path = self.root / self.config.state_dir
        ignore = path / ".gitignore"
        if not ignore.exists():
            path.mkdir(parents=True, exist_ok=True)
            ignore.write_text("*\n")
        return path


def _split_duplicates(modules: list[Module]) -> tuple[list[Module], list[Module], list[Problem]]:
    """The first manifest (by path) owns a name; names equal but for case collide too.

    Later claimants stay visible in the registry (nothing is silently dropped) but get no
    per-module tasks, since ``coverage:<name>`` would be ambiguous.
    """
    seen: dict[str, Module] = {}
    kept: list[Module] = []
    duplicates: list[Module] = []
    problems = []
    for module in sorted(modules, key=lambda m: m.manifest_path):
        key = module.name.casefold()
        first = seen.get(key)
        if first is None:
            seen[key] = module
            kept.append(module)
            continue
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
