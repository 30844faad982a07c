"""pytest-benchmark benchmarks of T4's own hot paths: what `t4 bench` measures on this repository.

They run only through `t4 bench` / `pytest benchmarks --benchmark-only`, never as unit tests
(the test suite's testpaths is tests/). Each builds its input once, then times one operation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t4tasks.catalog import registry
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger
from t4tasks.speed.checker import ContentChecker

MODULES = 200


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    for i in range(MODULES):
        folder = root / f"mod_{i:03d}"
        (folder / "tests").mkdir(parents=True)
        (folder / "__init__.py").write_text(f'"""Module {i}."""\n')
        (folder / "tests" / "test_it.py").write_text("def test_ok():\n    assert True\n")
        (folder / "README.md").write_text(f"# mod_{i:03d}\n")
        manifest = {"module": f"mod_{i:03d}", "matrix": {"lane": f"L{i % 6}"},
                    "ownership": {"team": "Core", "codeowners": ["@core"]},
                    "description": f"synthetic module {i}", "tags": ["bench"] * 5}
        (folder / "module.manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


def test_project_load(benchmark, repo: Path) -> None:
    def load() -> Project:
        project = Project.load(repo)
        project.modules  # manifests are parsed on first use: as in every run that reads modules
        return project

    project = benchmark(load)
    assert len(project.modules) == MODULES


def test_registry_build(benchmark, repo: Path) -> None:
    project = Project.load(repo)
    data = benchmark(registry.build, project)
    assert data["module_count"] == MODULES


def test_ledger_read(benchmark, tmp_path: Path) -> None:
    path = tmp_path / "coverage.ndjson"
    for i in range(500):
        ledger.append(path, ledger.new_record("coverage", f"m{i % 50}", {"coverage": float(i % 100)}, f"d{i}"))
    entries = benchmark(lambda: list(ledger.read(path)))
    assert len(entries) == 500


def test_checker_unchanged_files(benchmark, repo: Path) -> None:
    # doit's up-to-date check of every manifest, as a no-op run makes it: one call took half a
    # microsecond, where this machine's noise alone doubled a median from one run to the next
    checker = ContentChecker()
    paths = [str(repo / f"mod_{i:03d}" / "module.manifest.json") for i in range(MODULES)]
    checks = [(path, Path(path).stat(), checker.get_state(path, None)) for path in paths]

    def check_all() -> list[bool]:
        return [checker.check_modified(path, stat, state) for path, stat, state in checks]

    assert not any(benchmark(check_all))
