"""``t4 init --apply`` then ``t4``, with no step between, on each layout real projects use: the
modules a maintainer expects, each measured as coverage.py measures the same files by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scaffolding import layout_repos
from tests.support import MANIFEST, latest, ledger_lines, manifest, read_registry, run_t4, t4_run, write

LEDGER = Path("manifests/.ledger/coverage.ndjson")


def by_hand(root: Path, expected: layout_repos.Expected, host_rules: str, scratch: Path) -> dict:
    """``pytest --cov=<code>`` the way a maintainer runs it, under the host's configuration, with
    the files that are not the module's source named one by one."""
    scratch.mkdir(parents=True, exist_ok=True)
    rc = scratch / "coveragerc"
    rc.write_text("[run]\nomit =\n" + "".join(f"    {root / f}\n" for f in expected.omit) + host_rules)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")}
    env["COVERAGE_FILE"] = str(scratch / ".coverage")
    report = scratch / "coverage.json"
    subprocess.run([sys.executable, "-m", "pytest", *expected.pytest_args, f"--cov={expected.code}",
                    f"--cov-config={rc}", f"--cov-report=json:{report}", "-p", "no:cacheprovider", "-q"],
                   cwd=root, env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(report.read_text())


# the self-measurement runs one layout end to end (the src layout with namespace packages, the
# one with the most path handling); CI runs them all
@pytest.mark.parametrize("layout_name", [name if name == "uv-workspace" else pytest.param(name, marks=pytest.mark.slow)
                                         for name in layout_repos.LAYOUTS])
def test_init_apply_then_t4_measures_the_expected_modules_like_coverage_py(tmp_path, layout_name):
    layout = layout_repos.LAYOUTS[layout_name]()
    root = layout_repos.build(tmp_path / "repo", layout)

    code, out, err = run_t4(root, "init", "--apply")
    assert code == 0, out + err
    code, executed, _, out = t4_run(root, timeout=600)   # no git add, no edit in between

    assert sorted(m["name"] for m in read_registry(root)["modules"]) == sorted(layout.modules)
    assert sorted(t for t in executed if t.startswith("coverage:")) == sorted(f"coverage:{m}" for m in layout.modules)
    entries = latest(ledger_lines(root / LEDGER))
    for name, expected in layout.modules.items():
        entry = entries[name]
        if not expected.pytest_args:
            assert entry["status"] == "no_tests", entry
            continue
        assert entry["status"] == "ok", entry
        plain = by_hand(root, expected, layout.coverage_config, tmp_path / "hand" / name)
        totals = plain["totals"]
        assert abs(entry["coverage"] - totals["percent_covered"]) < 0.1, (name, entry, totals)
        assert entry["headline"] == "line"
        assert (entry["statements"], entry["covered_lines"], entry["files"]) == (
            totals["num_statements"], totals["covered_lines"], len(plain["files"])), name
    # the manifests init wrote count before `git add`, and the run says so once
    assert out.count("not tracked by git, counted anyway") == 1, out


def test_the_depth_option_keeps_subpackages_inside_their_parent(tmp_path):
    root = layout_repos.build(tmp_path / "repo", layout_repos.subpackages_with_tests())
    code, out, _ = run_t4(root, "init", "--depth", "1")
    assert code == 0, out
    assert [line.split(" ")[0] for line in out.splitlines() if "→ code" in line] == ["lib"]
    code, out, _ = run_t4(root, "init")
    assert [line.split(" ")[0] for line in out.splitlines() if "→ code" in line] == ["lib", "lib.alpha", "lib.beta"]
    assert "skipped lib/util/: no tests of its own: measured as part of lib" in out


def test_a_module_never_counts_test_files_of_subpackages_as_its_source(tmp_path):
    """``lib`` runs its own tests only, while its subpackages keep tests/ and conftest.py of their
    own that no manifest claims: those files are still not ``lib``'s source."""
    layout = layout_repos.subpackages_with_tests()
    root = layout_repos.build(tmp_path / "repo", layout)
    write(root / "lib" / MANIFEST, json.dumps(manifest("lib", layout={"paths": {"code": ".", "tests": "tests"}})))
    code, _, _, out = t4_run(root, "coverage")
    assert code == 0, out
    entry = latest(ledger_lines(root / LEDGER))["lib"]
    tests = [f for f in layout.files if "/tests/" in f]
    plain = by_hand(root, layout_repos.Expected("lib", ["lib/tests"], tests), "", tmp_path / "hand")
    assert sorted(plain["files"]) == sorted(f for f in layout.files if f.startswith("lib/") and f not in tests)
    assert abs(entry["coverage"] - plain["totals"]["percent_covered"]) < 0.1, (entry, plain["totals"])
    assert entry["files"] == len(plain["files"]) == 8
