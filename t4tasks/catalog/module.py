"""The normalised view of one module, as every task after discovery sees it."""
# Manifests in the wild spell the same facts several ways (lane in ``matrix.lane``, a ``lane:`` tag
# or ``module.lane``; ``module`` as a string or an object). ``manifest.py`` reads all of them into
# this one shape so nothing downstream has to know the spellings.

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import orjson


@dataclass(frozen=True)
class Module:
    name: str                 # canonical module name from the manifest
    path: str                 # repo-relative POSIX folder holding the manifest ("." for the root)
    manifest_path: str        # repo-relative POSIX path of module.manifest.json
    lane: str | None          # "L0".."L5", or None when the manifest gives none
    owner: str | None         # team or first codeowner
    description: str
    code_path: str            # repo-relative POSIX folder of the module's source
    test_paths: tuple[str, ...] = ()    # repo-relative folders/files holding its tests (existing)
    bench_paths: tuple[str, ...] = ()   # repo-relative folders/files holding its benchmarks
    docs_path: str | None = None        # repo-relative docs folder, when the manifest names one
    coverage_target: float | None = None  # testing.coverage_target from the manifest, if any
    no_tests: bool = False      # testing.no_tests: the manifest says the module has no tests on purpose
    no_benchmarks: bool = False  # performance.no_benchmarks: no benchmarks on purpose
    has_sla: bool = False       # the manifest states latency targets (performance.sla)
    raw: dict | None = field(default=None, compare=False, repr=False)     # the parsed manifest, or None: not read yet
    source: str | None = field(default=None, compare=False, repr=False)  # absolute path to read it from then

    @property
    def manifest(self) -> dict:
        """The raw manifest."""
        # Most runs need only the fields above, and the manifests of a large repository are a lot
        # of JSON (see docs/PERFORMANCE.md).
        if self.raw is None:
            data = orjson.loads(Path(self.source).read_bytes()) if self.source else {}
            object.__setattr__(self, "raw", data if isinstance(data, dict) else {})
        return self.raw

    def to_json(self) -> dict:
        """The fields as JSON values, without the manifest (its file holds it)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("raw", "source")}

    @classmethod
    def from_json(cls, data: dict, source: str) -> "Module":
        return cls(**{**data, "test_paths": tuple(data["test_paths"]), "bench_paths": tuple(data["bench_paths"]),
                      "source": source})
