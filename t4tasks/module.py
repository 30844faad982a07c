"""The normalised view of one module, as every task after discovery sees it.

Manifests in the wild spell the same facts several ways (lane in ``matrix.lane``, a ``lane:`` tag or
``module.lane``; ``module`` as a string or an object). ``manifest.py`` reads all of them into this
one shape so nothing downstream has to know the spellings.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    manifest: dict = field(default_factory=dict, compare=False, repr=False)  # the raw manifest
