"""Every run tells the truth: the key follows imports, environment and the measurement's own
settings; a run's own result is recorded and printed; the committed ledger is the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import git, git_init, ledger_lines, make_repo, manifest, t4_run

LEDGER = Path("manifests/.ledger/coverage.ndjson")


def imports_repo(root: Path) -> Path:
    """``a``'s tests import a shared package (no module) and ``core``'s class; ``b`` imports neither."""
    make_repo(root, {m: manifest(m) for m in ("a", "b", "core")}, files={
        "shared/__init__.py": "", "shared/util.py": "def one():\n    return 1\n",
        "core/__init__.py": "", "core/thing.py": "class Thing:\n    size = 1\n",
        "core/tests/test_core.py": "from core.thing import Thing\n\n\ndef test_thing():\n    assert Thing.size\n",
        "a/__init__.py": "", "a/code.py": "def f():\n    return 1\n",
        "a/tests/test_a.py": ("from a.code import f\nfrom core.thing import Thing\nfrom shared.util import one\n\n\n"
                              "def test_a():\n    assert f() == one() == Thing.size\n"),
        "b/__init__.py": "", "b/code.py": "def g():\n    return 2\n",
        "b/tests/test_b.py": "from b.code import g\n\n\ndef test_b():\n    assert g() == 2\n",
    }, pyproject="[tool.t4]\ntimeout = 120\n")
    return git_init(root)


def measured(executed: list[str]) -> list[str]:
    return sorted(name for name in executed if name.startswith("coverage:"))


@pytest.mark.slow
def test_run_it_again_and_nothing_reruns_though_the_tests_imported_other_modules(tmp_path):
    # the first run learns what a's tests import from core and shared; those files join a's inputs
    # as the run ends, so the second run declares what the first one saved (networkx: 25 modules
    # measured twice)
    root = imports_repo(tmp_path / "repo")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and measured(executed) == ["coverage:a", "coverage:b", "coverage:core"], out
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and measured(executed) == [], out
    (root / "shared/util.py").write_text("def one():\n    return 1  # edited\n")
    _, executed, _, out = t4_run(root, "coverage")
    assert measured(executed) == ["coverage:a"], out


@pytest.mark.slow
def test_staleness_follows_imports_and_only_the_measurements_settings(tmp_path):
    root = imports_repo(tmp_path / "repo")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and measured(executed) == ["coverage:a", "coverage:b", "coverage:core"], out
    recorded = {e["module"]: e for e in ledger_lines(root / LEDGER)}
    assert recorded["a"]["imports"] == ["core/__init__.py", "core/thing.py", "shared/__init__.py", "shared/util.py"]
    assert recorded["b"]["imports"] == []
    # T4's own writes (observed blocks, ledger lines) change no module's inputs
    code, _, _, out = t4_run(root, "coverage_gate", "--changed-since", "HEAD")
    assert "coverage gate: 0 of 0 modules pass" in out, out
    git(root, "add", "-A")
    git(root, "commit", "-qm", "measured")

    (root / "shared/util.py").write_text("def one():\n    return 1  # edited\n")
    code, executed, _, out = t4_run(root, "coverage")
    assert measured(executed) == ["coverage:a"], out
    code, _, _, out = t4_run(root, "coverage_gate", "--changed-since", "HEAD")
    assert "coverage gate: 1 of 1 modules pass" in out and "\na " in f"\n{out}", out

    (root / "core/thing.py").write_text("class Thing:\n    size = 1  # edited\n")
    _, executed, _, out = t4_run(root, "coverage")
    assert measured(executed) == ["coverage:a", "coverage:core"], out

    # a setting no measurement reads re-measures nothing; one that coverage reads re-measures all
    (root / "pyproject.toml").write_text('[tool.t4]\ntimeout = 120\nrequired_docs = ["README.md", "API.md"]\n'
                                         'bench_regression_threshold = 0.5\n')
    _, executed, _, out = t4_run(root, "coverage")
    assert measured(executed) == [], out
    (root / "pyproject.toml").write_text('[tool.t4]\ntimeout = 100\n')
    _, executed, _, out = t4_run(root, "coverage")
    assert measured(executed) == ["coverage:a", "coverage:b", "coverage:core"], out
    # the host's own pytest or coverage settings shape every run: each re-measures all
    (root / "pyproject.toml").write_text('[tool.t4]\ntimeout = 100\n\n[tool.pytest.ini_options]\n'
                                         'filterwarnings = ["error"]\n')
    _, executed, _, out = t4_run(root, "coverage")
    assert measured(executed) == ["coverage:a", "coverage:b", "coverage:core"], out
    (root / ".coveragerc").write_text("[report]\nexclude_also =\n    def never\n")
    _, executed, _, out = t4_run(root, "coverage")
    assert measured(executed) == ["coverage:a", "coverage:b", "coverage:core"], out


@pytest.mark.slow
def test_a_fresh_clone_with_the_committed_ledger_measures_nothing(tmp_path):
    root = imports_repo(tmp_path / "repo")
    code, _, _, out = t4_run(root, "coverage")
    assert code == 0, out
    git(root, "add", "-A")
    git(root, "commit", "-qm", "measured")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    before = (clone / LEDGER).read_bytes()
    manifests = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in clone.glob("*/module.manifest.json")}
    code, _, _, out = t4_run(clone, "coverage")
    assert code == 0, out
    assert out.count("up to date from the ledger (not measured)") == 3, out
    # their observed blocks already say what the ledger says: not even rewritten
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in manifests} == manifests
    # doit ran the tasks; none ran pytest, and the summary says so
    assert "measured 0 module task(s), 3 taken from the ledger (same key, not measured), 0 up to date" in out, out
    assert (clone / LEDGER).read_bytes() == before
    # the clone's state now holds the tasks: the next run has nothing to do
    _, executed, uptodate, out = t4_run(clone, "coverage")
    assert measured(executed) == [] and len([u for u in uptodate if u.startswith("coverage:")]) == 3, out


def test_a_run_killed_after_its_ledger_entry_still_gets_its_manifest_block(tmp_path):
    root = imports_repo(tmp_path / "repo")
    code, _, _, out = t4_run(root, "coverage")
    assert code == 0, out
    # killed after the ledger append: no manifest block, no result file, no saved doit state
    git(root, "checkout", "--", "a/module.manifest.json")
    shutil.rmtree(root / ".t4")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and any("coverage:a ok 100.00%" in line and "up to date from the ledger" in line
                             for line in out.splitlines()), out
    latest = [e for e in ledger_lines(root / LEDGER) if e["module"] == "a"][-1]
    testing = json.loads((root / "a/module.manifest.json").read_text())["testing"]
    assert (testing["coverage_observed"], testing["observed_digest"]) == (latest["coverage"], latest["input_digest"])


def flaky_repo(root: Path, marker: Path) -> Path:
    make_repo(root, {"flaky": manifest("flaky")}, files={
        "flaky/__init__.py": "", "flaky/code.py": "def f():\n    return 1\n",
        "flaky/tests/test_f.py": (f"import os\nfrom flaky.code import f\n\n\ndef test_f():\n"
                                  f"    assert f() == 1 and os.path.exists({str(marker)!r})\n"),
    }, pyproject="[tool.t4]\ntimeout = 120\n")
    return git_init(root)


@pytest.mark.slow
def test_a_runs_result_is_recorded_and_printed_and_a_failure_is_never_up_to_date(tmp_path):
    marker = tmp_path / "outside-the-repo"
    root = flaky_repo(tmp_path / "repo", marker)
    code, _, _, out = t4_run(root, "coverage")
    assert "coverage:flaky tests_failed" in out, out
    marker.write_text("now it passes")  # same files, same key: only the run can tell
    _, executed, _, out = t4_run(root, "coverage")
    assert executed == ["coverage:flaky"] and "coverage:flaky ok 100.00%" in out, out
    assert [e["status"] for e in ledger_lines(root / LEDGER)] == ["tests_failed", "ok"]
    # -a measures again: same key and values, so nothing is appended and it says so
    _, executed, _, out = t4_run(root, "coverage", "-a")
    assert executed == ["coverage:flaky"] and "unchanged (same key and values" in out, out
    assert len(ledger_lines(root / LEDGER)) == 2
    marker.unlink()  # -a again: a new result for the same key is recorded and printed
    _, _, _, out = t4_run(root, "coverage", "-a")
    assert "coverage:flaky tests_failed" in out, out
    assert [e["status"] for e in ledger_lines(root / LEDGER)] == ["tests_failed", "ok", "tests_failed"]


def test_the_installed_distributions_are_part_of_the_key(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "t4fakedist-1.0.dist-info").mkdir(parents=True)
    (site / "t4fakedist-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: t4fakedist\nVersion: 1.0\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(site)])))
    marker = tmp_path / "marker"
    marker.write_text("passes")
    root = flaky_repo(tmp_path / "repo", marker)
    assert t4_run(root, "coverage")[1] == ["coverage:flaky"]
    _, executed, _, out = t4_run(root, "coverage")
    assert executed == [], out
    # the distribution moves to another version: a new environment, a new key
    (site / "t4fakedist-1.0.dist-info").rename(site / "t4fakedist-2.0.dist-info")
    (site / "t4fakedist-2.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: t4fakedist\nVersion: 2.0\n")
    _, executed, _, out = t4_run(root, "coverage")
    assert executed == ["coverage:flaky"], out
    first, second = ledger_lines(root / LEDGER)
    assert first["input_digest"] != second["input_digest"]


@pytest.mark.slow
def test_a_module_measured_by_both_kinds_is_fresh_for_both_gates(tmp_path):
    # its tests import one shared file and its benchmarks another: each record's key holds what
    # its own kind of run imported, so neither gate calls the fresh measurement stale
    root = git_init(make_repo(tmp_path / "repo", {"m": manifest("m", testing={"coverage_target": 10})}, files={
        "shared/__init__.py": "", "shared/a.py": "A = 1\n", "shared/b.py": "B = 2\n",
        "m/__init__.py": "", "m/code.py": "def f():\n    return 1\n",
        "m/tests/test_m.py": "from m.code import f\nfrom shared.a import A\n\n\ndef test_f():\n    assert f() == A\n",
        "m/benchmarks/test_speed.py": ("from m.code import f\nfrom shared.b import B\n\n\n"
                                       "def test_speed(benchmark):\n    assert benchmark(f) == B - 1\n"),
    }, pyproject="[tool.t4]\ntimeout = 120\n"))
    code, _, _, out = t4_run(root, "coverage", "bench")
    assert code == 0, out
    for gate in ("coverage_gate", "bench_gate"):
        code, _, _, out = t4_run(root, gate)
        assert code == 0 and "stale" not in out, out
