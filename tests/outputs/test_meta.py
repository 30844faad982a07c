"""META_REGISTRY.json: the registry fused with the ledgers, and an explained health score.

The fixture tests run the real ``t4 meta_registry`` on a copy of the lukhas monorepo; the unit
tests pin the scoring rules (coverage/2 capped at 50, SLA 30/0/null, docs 20 x written share).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import orjson
import pytest

from t4tasks.catalog.project import Project
from t4tasks.outputs import meta
from t4tasks.scaffolding import marker
from tests.support import GENERATED, MANIFEST, doit_tasks, make_repo, manifest, run_t4

META = f"{GENERATED}/META_REGISTRY.json"
LEDGER_MODULES = {"consciousness", "memory", "identity", "governance", "matriz"}


def load(root: Path, relpath: str = META) -> dict:
    return orjson.loads((root / relpath).read_bytes())


def build_meta(root: Path, *tasks: str) -> tuple[list[str], list[str]]:
    code, out, err = run_t4(root, "meta_registry", *tasks)
    assert code == 0, out + err
    assert "Traceback" not in out + err
    return doit_tasks(out)


def fixture_coverage(root: Path) -> dict[str, float]:
    """The fixture's own coverage ledger, read independently of T4: module -> last coverage."""
    latest = {}
    for line in (root / "manifests" / ".ledger" / "coverage.ndjson").read_bytes().splitlines():
        if line.strip():
            entry = orjson.loads(line)
            latest[entry["module"]] = entry["coverage"]
    return latest


# ---------------------------------------------------------------------------------------------
# the lukhas fixture


def test_lukhas_meta_registry_modules_and_duplicate(lukhas):
    assert len(list(lukhas.rglob(MANIFEST))) == 140
    executed, _ = build_meta(lukhas)
    assert "registry" in executed and "meta_registry" in executed
    registry = load(lukhas, f"{GENERATED}/MODULE_REGISTRY.json")
    data = load(lukhas)
    # the registry lists all 140 manifests, the second `core` marked as a duplicate
    assert registry["module_count"] == 140
    duplicates = [m for m in registry["modules"] if "duplicate_of" in m]
    assert [(m["name"], m["path"], m["duplicate_of"]) for m in duplicates] == [
        ("core", "lukhas/core", "core/module.manifest.json")]
    # the duplicate is listed apart, never scored: 140 manifests, 139 scored modules
    assert data["summary"]["modules"] == len(data["modules"]) == 139
    assert data["summary"]["manifests"] == 140 and data["summary"]["duplicates"] == 1
    assert data["duplicates"] == [{"name": "core", "manifest": "lukhas/core/module.manifest.json",
                                   "duplicate_of": "core/module.manifest.json"}]
    names = [m["name"] for m in data["modules"]]
    assert len(set(names)) == 139
    assert {m["path"] for m in data["modules"] if m["name"] == "core"} == {"core"}
    assert "lukhas/core" not in {m["path"] for m in data["modules"]}
    assert set(names) == {m["name"] for m in registry["modules"]}
    assert data["schema_version"] == meta.SCHEMA_VERSION
    assert set(data["scoring"]) == {"total", "points", "coverage", "sla", "docs", "coverage_headline"}


def test_lukhas_ledger_modules_get_coverage_points(lukhas):
    ledger = fixture_coverage(lukhas)
    assert set(ledger) == LEDGER_MODULES
    build_meta(lukhas)
    modules = {m["name"]: m for m in load(lukhas)["modules"]}
    assert modules["matriz"]["path"] == "MATRIZ"
    for name, value in ledger.items():
        module = modules[name]
        assert module["coverage"]["observed"] == value
        assert module["coverage"]["observed_at"].startswith("2025-10-05T")
        assert module["coverage"]["target"] == 80.0                 # lane L2's default target
        assert module["coverage"]["meets_target"] is False
        assert module["health"]["coverage"]["points"] == round(value / 2, 2)
        assert module["health"]["coverage"]["points"] > 0
    for name in modules.keys() - LEDGER_MODULES:
        coverage = modules[name]["health"]["coverage"]
        assert coverage["points"] is None, name                        # unknown, not zero
        assert coverage["reason"] == "never measured"
        assert modules[name]["coverage"]["observed"] is None
        assert modules[name]["coverage"]["status"] == "no_observation"
    assert modules["identity"]["health_points"] == 18.25             # 36.5 / 2, nothing else earned
    # of the applicable 70 (coverage 50 + docs 20; identity has no latency target)
    assert modules["identity"]["applicable_max"] == 70.0
    assert modules["identity"]["health_score"] == round(100 * 18.25 / 70, 2)


def test_lukhas_every_score_is_explained_by_its_components(lukhas):
    build_meta(lukhas)
    data = load(lukhas)
    for module in data["modules"]:
        score, parts = module["health_score"], module["health"]
        assert type(score) is float, module["name"]
        assert set(parts) == {"coverage", "sla", "docs"}
        known = [part["points"] for part in parts.values() if part["points"] is not None]
        assert module["health_points"] == round(sum(known), 2), module["name"]
        applicable = [part for part in parts.values() if part["applicable"]]
        assert module["applicable_max"] == sum(part["max"] for part in applicable)
        assert score == round(100 * sum(part["points"] or 0 for part in applicable) / module["applicable_max"], 2)
        assert 0.0 <= score <= 100.0
        for component, part in parts.items():
            assert part["max"] == {"coverage": 50.0, "sla": 30.0, "docs": 20.0}[component]
            assert isinstance(part["reason"], str) and part["reason"], (module["name"], component)
            if part["points"] is not None:
                assert type(part["points"]) is float and 0.0 <= part["points"] <= part["max"]
        # the fixture has no latency targets and no README files
        assert parts["sla"]["points"] is None
        assert parts["sla"]["reason"] == "no latency target in the manifest"
        assert parts["docs"]["points"] == 0.0
        assert parts["docs"]["reason"] == "0 of 1 required docs written"
    scores = [m["health_score"] for m in data["modules"]]
    summary = data["summary"]
    assert summary["with_coverage"] == 5
    assert summary["meeting_sla"] == 0
    assert summary["with_benchmarks"] == 0
    assert summary["meeting_coverage_target"] == 0
    assert summary["with_coverage"] == sum(m["coverage"]["observed"] is not None for m in data["modules"])
    assert summary["avg_health"] == round(statistics.fmean(scores), 2)
    assert summary["median_health"] == round(statistics.median(scores), 2) == 0.0
    assert sum(lane["modules"] for lane in summary["by_lane"].values()) == 139
    for lane, values in summary["by_lane"].items():
        members = [m["health_score"] for m in data["modules"] if (m["lane"] or "none") == lane]
        assert values == {"modules": len(members), "avg_health": round(statistics.fmean(members), 2)}
    # the whole average is the five coverage scores, each a share of the applicable 70 (coverage and
    # docs), spread over 139 modules
    assert summary["avg_health"] == round(sum(100 * (v / 2) / 70 for v in fixture_coverage(lukhas).values()) / 139, 2)


def test_lukhas_rebuild_is_byte_identical(lukhas, tmp_path):
    build_meta(lukhas)
    first = (lukhas / META).read_bytes()
    assert str(lukhas).encode() not in first and str(tmp_path).encode() not in first
    executed, uptodate = build_meta(lukhas)
    assert executed == [] and "meta_registry" in uptodate
    (lukhas / META).unlink()
    executed, _ = build_meta(lukhas)
    assert executed == ["meta_registry"]
    assert (lukhas / META).read_bytes() == first


# ---------------------------------------------------------------------------------------------
# coverage: observed / 2, capped at 50; unknown is null with a reason


def coverage(observed, target=80.0, status="ok"):
    record = None if observed == "none" else {"coverage": observed, "ts": "2025-01-01T00:00:00.000000+00:00",
                                              "status": status}
    return meta.coverage_block({"coverage_target": target, "lane": None}, record, {})


NO_PERF = meta.performance_block({}, None)
NO_DOCS = {"required": [], "present": [], "placeholder": []}


@pytest.mark.parametrize("observed, points", [(0.0, 0.0), (37.0, 18.5), (81.82, 40.91), (99.98, 49.99),
                                              (100.0, 50.0), (130.0, 50.0)])
def test_coverage_points_are_half_the_percentage_capped_at_50(observed, points):
    part = meta.health(coverage(observed), NO_PERF, NO_DOCS)["components"]["coverage"]
    assert part["points"] == points and type(part["points"]) is float
    assert part["max"] == 50.0


def test_zero_coverage_is_a_value_not_unknown():
    scored = meta.health(coverage(0.0), NO_PERF, NO_DOCS)
    assert scored["components"]["coverage"]["points"] == 0.0
    assert scored["components"]["coverage"]["reason"] == "0% / 2"
    assert scored["score"] == 0.0 and type(scored["score"]) is float


@pytest.mark.parametrize("block, reason", [
    (coverage("none"), "never measured"),
    (coverage(None, status="tests_failed"), "measurement gave no number (tests_failed)"),
])
def test_unknown_coverage_is_null_with_a_reason(block, reason):
    assert block["observed"] is None and block["meets_target"] is None and block["delta"] is None
    part = meta.health(block, NO_PERF, NO_DOCS)["components"]["coverage"]
    assert part["points"] is None
    assert part["reason"] == reason


def test_coverage_block_target_delta_and_lane_fallback():
    record = {"coverage": 72.5, "ts": "2025-01-01T00:00:00.000000+00:00"}
    from_lane = meta.coverage_block({"coverage_target": None, "lane": "L1"}, record, {"L1": 75.0})
    assert from_lane == {"observed": 72.5, "target": 75.0, "delta": -2.5, "meets_target": False,
                         "status": "ok", "observed_at": "2025-01-01T00:00:00.000000+00:00",
                         # an entry without line/branch figures (the fixture's ledgers have none)
                         "line_pct": None, "branch_pct": None, "headline": "branch"}
    own = meta.coverage_block({"coverage_target": 70, "lane": "L1"}, record, {"L1": 75.0})
    assert own["target"] == 70.0 and type(own["target"]) is float
    assert own["meets_target"] is True and own["delta"] == 2.5
    untargeted = meta.coverage_block({"coverage_target": None, "lane": None}, record, {"L1": 75.0})
    assert untargeted["target"] is None and untargeted["meets_target"] is None
    assert "no coverage target" in untargeted["reason"]


def test_coverage_points_without_a_target_are_explained_by_the_observation():
    part = meta.health(coverage(60.0, target=None), NO_PERF, NO_DOCS)["components"]["coverage"]
    assert part["points"] == 30.0
    assert part["reason"] == "60% / 2"


# ---------------------------------------------------------------------------------------------
# SLA: 30 only when a target and an observation exist and the target is met


def bench_record(p95, p99=None):
    return {"summary": {"p50_ms": 0.5, "p95_ms": p95, "p99_ms": p99, "benchmark": "b.py::test_x"},
            "env_fingerprint": "abc123", "ts": "2025-01-02T00:00:00.000000+00:00"}


def sla_part(entry, record):
    block = meta.performance_block(entry, record)
    return block, meta.health(coverage("none"), block, NO_DOCS)["components"]["sla"]


@pytest.mark.parametrize("sla, p95, p99, meets, points", [
    ({"p95_ms": 5.0}, 4.0, None, True, 30.0),
    ({"p95_ms": 5.0}, 5.0, None, True, 30.0),                  # equal meets the target
    ({"p95_ms": 5.0, "p99_ms": 9.0}, 4.0, 8.0, True, 30.0),
    ({"p95_ms": 5.0}, 5.01, None, False, 0.0),
    ({"p95_ms": 5.0, "p99_ms": 9.0}, 4.0, 9.5, False, 0.0),    # one missed target is a miss
])
def test_sla_met_or_missed(sla, p95, p99, meets, points):
    block, part = sla_part({"sla": sla}, bench_record(p95, p99))
    assert block["meets_sla"] is meets
    assert part["points"] == points and type(part["points"]) is float
    assert part["reason"] == ("target met" if meets else "target missed")
    assert block["sla"] == sla and block["p95_ms"] == p95 and block["fingerprint"] == "abc123"


@pytest.mark.parametrize("entry, record, reason", [
    ({}, bench_record(1.0), "no latency target in the manifest"),
    ({"sla": {}}, bench_record(1.0), "no latency target in the manifest"),
    ({"sla": {"p95_ms": 5.0}}, None, "no benchmark observation"),
    ({"sla": {"p95_ms": 5.0}}, {"summary": None, "ts": "2025-01-02T00:00:00.000000+00:00"},
     "no benchmark observation"),
])
def test_sla_unknown_is_null_never_zero(entry, record, reason):
    block, part = sla_part(entry, record)
    assert block["meets_sla"] is None
    assert part["points"] is None
    assert part["reason"] == reason == block["reason"]


# ---------------------------------------------------------------------------------------------
# docs: 20 x share of required docs written (present and not an untouched scaffold)

README = "# Memory\n\nTODO: describe the module.\n"


def docs_repo(tmp_path: Path, readme: str | None, extra: dict[str, str] | None = None) -> tuple[Path, dict]:
    files = dict(extra or {})
    if readme is not None:
        files["memory/README.md"] = readme
    root = make_repo(tmp_path / "r", {}, files=files)
    entry = {"path": "memory", "docs": sorted(p for p in files if p.endswith(".md"))}
    return root, entry


def docs_part(root, entry, required=("README.md",)):
    block = meta.docs_block(root, entry, required)
    return block, meta.health(coverage("none"), NO_PERF, block)["components"]["docs"]


def test_untouched_scaffold_placeholder_earns_no_docs_points(tmp_path):
    root, entry = docs_repo(tmp_path, marker.stamp(README, "module/README.md", "3"))
    assert marker.is_placeholder((root / "memory/README.md").read_text())
    block, part = docs_part(root, entry)
    assert block == {"required": ["memory/README.md"], "present": ["memory/README.md"],
                     "placeholder": ["memory/README.md"]}
    assert part["points"] == 0.0
    assert part["reason"] == "0 of 1 required docs written (1 untouched scaffold)"


def test_human_edited_scaffold_earns_the_docs_points(tmp_path):
    stamped = marker.stamp(README, "module/README.md", "3")
    edited = stamped.replace("TODO: describe the module.", "Stores and recalls episodes.")
    root, entry = docs_repo(tmp_path, edited)
    assert not marker.is_placeholder(edited)
    block, part = docs_part(root, entry)
    assert block["placeholder"] == []
    assert part["points"] == 20.0
    assert part["reason"] == "1 of 1 required docs written"


def test_docs_points_are_the_written_share_and_missing_docs_score_zero(tmp_path):
    root, entry = docs_repo(tmp_path, "# Memory\n\nReal words.\n",
                            {"memory/CHANGELOG.md": marker.stamp("# Changes\n", "module/CHANGELOG.md", "1")})
    block, part = docs_part(root, entry, ("README.md", "CHANGELOG.md", "API.md"))
    assert block["required"] == ["memory/README.md", "memory/CHANGELOG.md", "memory/API.md"]
    assert block["present"] == ["memory/README.md", "memory/CHANGELOG.md"]
    assert block["placeholder"] == ["memory/CHANGELOG.md"]
    assert part["points"] == round(20.0 / 3, 2)
    missing_root, missing_entry = docs_repo(tmp_path / "none", None)
    _, missing = docs_part(missing_root, missing_entry)
    assert missing["points"] == 0.0 and missing["reason"] == "0 of 1 required docs written"
    _, unrequired = docs_part(missing_root, missing_entry, ())
    assert unrequired["points"] is None


def test_real_run_scaffold_then_human_edit(tmp_path):
    """End to end: t4 meta_registry scores a scaffolded README 0, the same README edited 20."""
    stamped = marker.stamp(README, "module/README.md", "3")
    root = make_repo(tmp_path / "repo", {"memory": manifest("memory")},
                     files={"memory/__init__.py": "", "memory/README.md": stamped})
    build_meta(root)
    module = load(root)["modules"][0]
    assert module["docs"]["placeholder"] == ["memory/README.md"]
    assert module["health"]["docs"]["points"] == 0.0 and module["health_score"] == 0.0
    (root / "memory/README.md").write_text(stamped.replace("TODO: describe the module.", "Recalls."))
    executed, _ = build_meta(root)
    assert "meta_registry" in executed
    module = load(root)["modules"][0]
    assert module["docs"]["placeholder"] == []
    assert module["health"]["docs"]["points"] == 20.0 and module["health_score"] == round(100 * 20 / 70, 2)


def test_docs_points_agree_with_the_docs_check_on_name_case(tmp_path):
    root = make_repo(tmp_path / "repo", {"memory": manifest("memory")},
                     files={"memory/__init__.py": "", "memory/readme.md": "# Memory\n\nRecalls.\n"})
    code, out, err = run_t4(root, "meta_registry", "docs_check")
    assert code == 0, out + err
    assert "docs: pass" in out
    module = load(root)["modules"][0]
    assert module["health"]["docs"]["points"] == 20.0


@pytest.mark.parametrize("observed, sla, required, score", [
    (100.0, {}, [], 100.0),            # 50 of the applicable 50: the best-tested module reads 100
    (96.0, {}, [], 96.0),              # the 25-module library of the issue: no SLA, docs elsewhere
    (96.0, {}, ["m/README.md"], 68.57),  # docs required and missing: 48 of 70
    (100.0, {"p95_ms": 5.0}, [], 62.5),  # a latency target without a benchmark: 50 of 80
])
def test_health_is_the_share_of_the_applicable_maximum(observed, sla, required, score):
    performance = meta.performance_block({"sla": sla}, None)
    docs = {"required": required, "present": [], "placeholder": []}
    scored = meta.health(coverage(observed), performance, docs)
    assert scored["score"] == score
    assert scored["points"] == observed / 2
    parts = scored["components"]
    assert parts["sla"]["applicable"] is bool(sla) and parts["docs"]["applicable"] is bool(required)
    if not sla:
        assert parts["sla"]["reason"] == "no latency target in the manifest"
    if not required:
        assert parts["docs"]["reason"] == "no docs required: not applicable"


def test_a_manifest_without_a_lane_gets_the_default_lanes_target_and_says_so(tmp_path):
    root = make_repo(tmp_path / "repo", {"plain": {"schema_version": "1.0.0", "module": "plain"},
                                         "laned": manifest("laned")},
                     files={"plain/__init__.py": "", "laned/__init__.py": ""},
                     pyproject='[tool.t4]\ndefault_lane = "L3"\n')
    from t4tasks.catalog import registry
    entries = {e["name"]: e for e in registry.build(Project.load(root))["modules"]}
    assert entries["plain"]["lane"] is None and entries["plain"]["default_lane"] == "L3"
    assert "default_lane" not in entries["laned"]
    block = meta.coverage_block(entries["plain"], {"coverage": 90.0, "ts": "2025-01-01T00:00:00+00:00"},
                                {"L1": 75.0, "L3": 85.0})
    assert block["target"] == 85.0 and block["meets_target"] is True
    assert block["target_from"] == "default lane L3 ([tool.t4] default_lane): the manifest names no lane"
