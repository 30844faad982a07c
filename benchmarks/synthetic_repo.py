"""Synthetic git repositories of N modules whose manifests are shaped like the lukhas fixture's."""
# Shared by bench_registry.py, bench_pipeline.py and bench_smoke.py: every module is a package folder
# (``__init__.py``, two source files, ``tests/test_<name>.py``, ``README.md``, sometimes ``docs/``)
# with a 2-8 KB ``module.manifest.json``; about 10 % of the modules are nested inside others.

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

GENERATED = "docs/_generated"

WORDS = (
    "adapter agent alert analytics api audit bio bridge broker cache cognitive consent core "
    "dashboard dream emotion engine ethics event feature flag gateway governance guardian "
    "identity index ingest kernel ledger memory metric monitor observer oracle orchestration "
    "pipeline policy privacy quantum queue reasoning recovery registry router sandbox scheduler "
    "security sensor signal storage stream symbolic telemetry tenant trace vault vision workflow"
).split()
TEAMS = ("Core", "Platform", "Consciousness", "Identity", "Governance", "Memory", "Infra", "Research")
TAGS = ("consciousness", "memory", "bio", "matriz", "orchestration", "governance", "security",
        "observability", "experimental", "legacy", "api", "identity", "quantum")
CLASS_STEMS = ("Buffer", "Environment", "Manager", "Engine", "State", "Node", "Coordinator",
               "Network", "Adapter", "Validator", "Registry", "Processor", "Monitor", "Client")
FUNC_STEMS = ("run", "check", "load", "save", "process", "validate", "sync", "build", "merge",
              "resolve", "emit", "collect", "render", "main")


def _stamp(rng: random.Random) -> str:
    return (f"2025-{rng.randint(8, 10):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}+00:00")


def camel(word: str) -> str:
    return "".join(part.capitalize() for part in word.split("_"))


def make_manifest(rng: random.Random, name: str, folder: str, others: list[str]) -> dict:
    """A manifest with the structure of the lukhas fixture's (schema_version 3.0.0) manifests."""
    short = name.rsplit(".", 1)[-1]
    n_apis = rng.choice((0, 0, 1, 2, 3, 4, 5, 6, 8, 10))
    classes = sorted({camel(rng.choice(WORDS)) + rng.choice(CLASS_STEMS) for _ in range(n_apis)})
    funcs = sorted({f"{rng.choice(FUNC_STEMS)}_{rng.choice(WORDS)}" for _ in range(rng.randint(0, 6))})
    tags = sorted({short.split("_")[0], *rng.sample(TAGS, rng.randint(1, 3))})
    lane = f"L{rng.choice((0, 1, 2, 2, 2, 3, 4, 5))}"
    team = rng.choice(TEAMS)
    data: dict = {
        "_provenance": {
            "apis": {"confidence": rng.choice(("low", "medium", "high")), "extracted_at": _stamp(rng),
                     "reasons": ["no_apis"] if not classes else ["ast_exports"],
                     "sources": ["ast:__init__.py"]},
            "features": {"confidence": "low", "extracted_at": _stamp(rng), "reasons": ["weak_evidence"],
                         "sha": "%064x" % rng.getrandbits(256),
                         "sources": ["claude.me:bullets", "claude.me:headers"]},
        },
        "apis": {cls: {"capabilities": [], "description": "Auto-detected API; fill in description ≥ 40 chars.",
                       "doc_ok": False, "import_verified": rng.random() < 0.3, "module": f"{name}.{cls}"}
                 for cls in classes},
        "contracts": [f"{short}_contract.json"] if rng.random() < 0.1 else [],
        "dependencies": sorted(set(rng.sample(others, min(len(others), rng.randint(0, 3))))),
        "description": f"{camel(short)} {rng.choice(('services', 'utilities', 'bridge', 'engine', 'adapters'))} "
                       f"for the {rng.choice(WORDS)} {rng.choice(('pipeline', 'subsystem', 'layer', 'lane'))}",
        "features": [f"{short}.{rng.choice(WORDS)}-{rng.choice(FUNC_STEMS)}" for _ in range(rng.randint(0, 3))],
        "identity": {"requires_auth": rng.random() < 0.2, "scopes": [], "tiers": []},
        "layout": {"code_layout": "package-root",
                   "paths": {"assets": "assets", "code": ".", "config": "config", "docs": "docs", "tests": "tests"}},
        "links": {"docs": "./docs/README.md", "issues": "https://github.com/example/mono/issues",
                  "repo": "https://github.com/example/mono"},
        "matrix": {"contract": "", "gates_profile": rng.choice(("standard", "strict")), "lane": lane},
        "module": name,
        "observability": {"otel_semconv_version": "1.37.0",
                          "required_spans": sorted({f"mono.{short}.{rng.choice(('operation', 'consciousness', 'io'))}"
                                                    for _ in range(rng.randint(1, 3))})},
        "ownership": {"codeowners": [f"@mono-{team.lower()}"], "team": team},
        "runtime": {"entrypoints": [f"{name}.{x}" for x in classes + funcs], "language": "python"},
        "schema_version": "3.0.0",
        "tags": tags,
        "tokenization": {"chain": "none", "enabled": False},
    }
    # the fixture's other lane/name spellings, so every code path of the reader is exercised
    shape = rng.random()
    if shape < 0.05:
        del data["matrix"]["lane"]
        data["tags"] = sorted(tags + [f"lane:{lane}"])
    elif shape < 0.10:
        del data["matrix"]["lane"]
        data["module"] = {"name": name, "lane": lane, "owner": team}
    if rng.random() < 0.05:
        data["testing"] = {"coverage_observed": round(rng.uniform(0, 95), 2), "observed_at": _stamp(rng)}
    if rng.random() < 0.5:
        data["x_legacy"] = {
            "agent_guidance": {
                "avoid_patterns": ["Modifying contracts without validation", "Breaking lane boundaries",
                                   "Ignoring MATRIZ pipeline integration requirements",
                                   "Bypassing T4/0.01% validation standards"][: rng.randint(1, 4)],
                "common_tasks": [], "key_files": ["README.md", "lukhas_context.md", "claude.me"],
                "prerequisites": ["Understanding of the lane system", "MATRIZ pipeline architecture"],
                "recommended_approach": "Begin with documentation files, then explore core components",
            },
            "component_inventory": {
                "documentation": [{"filename": f, "has_sync_header": False, "type": f}
                                  for f in ("README.md", "lukhas_context.md", "claude.me")],
                "python_files": [{"component_type": rng.choice(("UTILITY", "CORE", "ADAPTER")),
                                  "contract_path": None, "dependencies": [],
                                  "exports": classes[:4] + funcs[:3], "filename": f, "has_contract": False}
                                 for f in ("core.py", "utils.py")[: rng.randint(1, 2)]],
                "subdirectories": [{"component_count": rng.randint(1, 5), "has_index": False, "name": sub,
                                    "purpose": "Subdirectory with Python files"}
                                   for sub in rng.sample(WORDS, rng.randint(0, 4))],
            },
            "directory_metadata": {"constellation_framework_version": "2.0.0", "lane": "development",
                                   "last_updated": "2025-09-21", "path": folder,
                                   "purpose": "Directory containing Python files",
                                   "t4_compliance_level": "experimental"},
            "performance_metadata": {"component_count": len(classes), "consciousness_integration": "none",
                                     "constructor_aware_instantiation": True,
                                     "estimated_complexity": rng.choice(("low", "medium", "high")),
                                     "matriz_compatibility": "standard", "plugin_registry_compatible": True,
                                     "t4_compliance_score": round(rng.random(), 2),
                                     "test_coverage": round(rng.uniform(0, 100), 1)},
            "relationships": {"constellation_cluster": "unknown", "dependency_weight": "moderate",
                              "parent_directory": None, "related_directories": []},
            "schema_references": [{"schema_name": "directory_index",
                                   "schema_path": "schemas/directory_index.schema.json",
                                   "validation_status": "valid"}],
        }
    return data


def build_synthetic(dest: Path, n: int, seed: int = 4) -> list[int]:
    """Write an n-module git repository at dest; returns the manifest sizes in bytes."""
    rng = random.Random(seed * 1_000_003 + n)
    dest.mkdir(parents=True)
    (dest / "pyproject.toml").write_text('[project]\nname = "synthetic-monorepo"\nversion = "0.0.0"\n')
    (dest / "README.md").write_text(f"# Synthetic monorepo\n\n{n} modules, generated by benchmarks/synthetic_repo.py.\n")
    (dest / ".gitignore").write_text("__pycache__/\n*.pyc\n")
    modules: list[tuple[str, str]] = []   # (name, folder)
    top_level: list[tuple[str, str]] = []
    for i in range(n):
        short = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i:05d}"
        if top_level and rng.random() < 0.10:          # ~10 % nested inside another module
            parent_name, parent_folder = rng.choice(top_level)
            name, folder = f"{parent_name}.{short}", f"{parent_folder}/{short}"
        else:
            name = folder = short
            top_level.append((name, folder))
        modules.append((name, folder))
    names = [m[0] for m in modules]
    sizes = []
    for name, folder in modules:
        short = name.rsplit(".", 1)[-1]
        d = dest / folder
        (d / "tests").mkdir(parents=True, exist_ok=True)
        manifest = make_manifest(rng, name, folder, names)
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (d / "module.manifest.json").write_text(text, encoding="utf-8")
        sizes.append(len(text.encode()))
        (d / "__init__.py").write_text(f'"""{manifest["description"]}."""\n\nfrom .core import {camel(short)}\n')
        (d / "core.py").write_text(
            f"class {camel(short)}:\n    def __init__(self, depth: int = 1) -> None:\n        self.depth = depth\n\n"
            f"    def run(self, items):\n        return [x * self.depth for x in items]\n")
        (d / "utils.py").write_text("def clamp(x, lo, hi):\n    return max(lo, min(hi, x))\n")
        (d / "tests" / f"test_{short}.py").write_text(
            f"from {folder.replace('/', '.')}.core import {camel(short)}\n\n\n"
            f"def test_{short}():\n    assert {camel(short)}(2).run([1, 2]) == [2, 4]\n")
        (d / "README.md").write_text(f"# {name}\n\n{manifest['description']}\n\nOwner: {manifest['ownership']['team']}\n")
        if rng.random() < 0.3:
            (d / "docs").mkdir(exist_ok=True)
            (d / "docs" / "README.md").write_text(f"# {name} docs\n")
    git_commit(dest)
    return sizes


def git_commit(dest: Path) -> None:
    git = ["git", "-C", str(dest), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
           "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "synthetic repository"], check=True)


def copy_fixture(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".git", ".t4"))
    shutil.rmtree(dest / GENERATED, ignore_errors=True)   # the other project's outputs, not T4's
    git_commit(dest)
