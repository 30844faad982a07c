"""``META_REGISTRY.json``: the registry fused with the latest measurements, and a health score."""
# Three components, each explained in the file, keep the seed's points:
#
# * coverage, up to 50: observed coverage / 2, capped at 50 (always applicable);
# * SLA, 30: applicable when the module has a latency target; 30 when a benchmark observation meets
#   it;
# * docs, up to 20: applicable when docs are required; the share that exist and are not untouched
#   scaffolds.
#
# The health score (0-100) is the share of the *applicable* maximum that was earned: a fully
# covered module with no SLA and no required docs earns 50 of 50 applicable points, health 100.
# Unknown is never zero: a component with nothing to judge says ``applicable: false`` and why, and
# a judged one still unknown has ``points: null`` and a ``reason`` (it counts 0 of its maximum).
#
# This module owns the document's field names: the dashboard and badges import them from here.

from __future__ import annotations

import posixpath
import statistics
from collections.abc import Callable
from pathlib import Path

from t4tasks.catalog.config import module_doc_path
from t4tasks.ledgers import records
from t4tasks.scaffolding import marker

SCHEMA_VERSION = "t4.meta/1"
META_NAME = "META_REGISTRY.json"
COVERAGE_MAX, SLA_MAX, DOCS_MAX = 50.0, 30.0, 20.0

# field names of a module entry in the META document (read by outputs/dashboard.py and badges.py)
NAME, PATH, LANE, OWNER = "name", "path", "lane", "owner"
COVERAGE, PERFORMANCE, DOCS, TESTS = "coverage", "performance", "docs", "tests"
HEALTH_SCORE, HEALTH, HEALTH_POINTS, HEALTH_APPLICABLE_MAX = "health_score", "health", "health_points", "applicable_max"
OBSERVED, TARGET, DELTA, MEETS_TARGET, STATUS, OBSERVED_AT, REASON = (
    "observed", "target", "delta", "meets_target", "status", "observed_at", "reason")
LINE_PCT, BRANCH_PCT, HEADLINE = "line_pct", "branch_pct", "headline"
SLA, MEETS_SLA, P50_MS, P95_MS, P99_MS = "sla", "meets_sla", "p50_ms", "p95_ms", "p99_ms"
REQUIRED, PRESENT, PLACEHOLDER = "required", "present", "placeholder"
POINTS, MAX, APPLICABLE = "points", "max", "applicable"
NO_TESTS, NO_BENCHMARKS = "no_tests", "no_benchmarks"  # declared in the manifest

SCORING = {
    "total": "100 x (points earned) / (maximum of the applicable components); a component that is "
             "not applicable counts neither way; one applicable but unknown (points null) earns 0",
    "points": "coverage + sla + docs as the seed adds them (0-100), beside the share",
    "coverage": f"min({COVERAGE_MAX:g}, observed coverage percent / 2); null when never measured",
    "sla": f"{SLA_MAX:g} when a p95/p99 latency target exists, a benchmark was observed and every "
           "target is met; 0 when missed; null when target or observation is missing",
    "docs": f"{DOCS_MAX:g} x (required docs present and not untouched scaffolds) / (required docs); "
            "not applicable when no docs are required",
    "coverage_headline": "coverage.observed is line % or lines+branches % as the host measures "
                         "([tool.t4] coverage_metric); line_pct and branch_pct are both shown",
}


def _num(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def coverage_block(entry: dict, record: dict | None, lane_targets: dict[str, float]) -> dict:
    target = entry.get("coverage_target")
    lane = entry.get("lane") or entry.get("default_lane")
    if target is None and lane in lane_targets:
        target = lane_targets[lane]
    observed = record.get("coverage") if record else None
    block = {
        "observed": _num(observed),
        "target": _num(target),
        "delta": _num(observed - target) if observed is not None and target is not None else None,
        "meets_target": (observed >= target) if observed is not None and target is not None else None,
        "status": records.status_of(record) if record else "no_observation",
        "observed_at": record.get("ts") if record else None,
        LINE_PCT: _num(record.get(LINE_PCT)) if record else None,
        BRANCH_PCT: _num(record.get(BRANCH_PCT)) if record else None,
        # entries recorded before the headline was chosen carry lines and branches together
        HEADLINE: (record.get(HEADLINE) or "branch") if record and observed is not None else None,
    }
    if entry.get("no_tests"):
        block[NO_TESTS] = True  # declared in the manifest: testing.no_tests
    if target is None:
        block["reason"] = "no coverage target: the module has no lane and no testing.coverage_target"
    elif entry.get("coverage_target") is None and not entry.get("lane"):
        block["target_from"] = f"default lane {lane} ([tool.t4] default_lane): the manifest names no lane"
    elif observed is None:
        block["reason"] = "never measured" if not record else f"measurement gave no number ({block['status']})"
    return block


def performance_block(entry: dict, record: dict | None) -> dict:
    summary = (record or {}).get("summary") or {}
    sla = entry.get("sla") or {}
    observed = {"p95_ms": summary.get("p95_ms"), "p99_ms": summary.get("p99_ms")}
    judged = [observed[k] <= v for k, v in sla.items() if observed.get(k) is not None]
    meets = None if not sla or not summary or len(judged) != len(sla) else all(judged)
    block = {
        "p50_ms": summary.get("p50_ms"), "p95_ms": summary.get("p95_ms"), "p99_ms": summary.get("p99_ms"),
        "benchmark": summary.get("benchmark"),
        "sla": sla or None,
        "meets_sla": meets,
        "fingerprint": (record or {}).get("env_fingerprint"),
        "observed_at": (record or {}).get("ts"),
    }
    if entry.get("no_benchmarks"):
        block[NO_BENCHMARKS] = True  # declared in the manifest: performance.no_benchmarks
    if meets is None:
        block["reason"] = "no latency target in the manifest" if not sla else "no benchmark observation"
    return block


def read_placeholder(root: Path) -> Callable[[str], bool]:
    """Whether a doc is an untouched scaffold, read from the file."""
    return lambda relpath: marker.is_placeholder((root / relpath).read_text("utf-8", "replace"))


def docs_block(root: Path, entry: dict, required: tuple[str, ...],
               is_placeholder: Callable[[str], bool] | None = None) -> dict:
    name = entry.get("name") or posixpath.basename(entry["path"])
    wanted = [p for p in (module_doc_path(entry["path"], name, doc) for doc in required) if p]
    listed = {d.casefold(): d for d in entry["docs"]}  # same rule as docs_check: readme.md counts
    present = [listed[p.casefold()] for p in wanted if p.casefold() in listed]
    is_placeholder = is_placeholder or read_placeholder(root)
    placeholder = [p for p in present if is_placeholder(p)]
    return {"required": wanted, "present": present, "placeholder": placeholder}


def health(coverage: dict, performance: dict, docs: dict) -> dict:
    cov_points = None if coverage["observed"] is None else min(COVERAGE_MAX, coverage["observed"] / 2)
    if performance["meets_sla"] is None:
        sla_points = None
    else:
        sla_points = SLA_MAX if performance["meets_sla"] else 0.0
    good = [p for p in docs["present"] if p not in docs["placeholder"]]
    docs_points = DOCS_MAX * len(good) / len(docs["required"]) if docs["required"] else None
    parts = {
        "coverage": {"points": _num(cov_points), "max": COVERAGE_MAX, APPLICABLE: True,
                     "reason": f"{coverage['observed']:g}% / 2" if coverage["observed"] is not None
                     else coverage.get("reason", "never measured")},
        "sla": {"points": _num(sla_points), "max": SLA_MAX, APPLICABLE: bool(performance["sla"]),
                "reason": performance.get("reason") or ("target met" if performance["meets_sla"] else "target missed")},
        "docs": {"points": _num(docs_points), "max": DOCS_MAX, APPLICABLE: bool(docs["required"]),
                 "reason": (f"{len(good)} of {len(docs['required'])} required docs written"
                            + (f" ({len(docs['placeholder'])} untouched scaffold)" if docs["placeholder"] else ""))
                 if docs["required"] else "no docs required: not applicable"},
    }
    applicable = [part for part in parts.values() if part[APPLICABLE]]
    earned = sum(part["points"] or 0.0 for part in applicable)
    ceiling = sum(part["max"] for part in applicable)
    return {"score": _num(100 * earned / ceiling), "points": _num(sum(part["points"] or 0.0 for part in parts.values())),
            "applicable_max": ceiling, "components": parts}


def build(root: Path, registry: dict, coverage_latest: dict[str, dict], bench_latest: dict[str, dict],
          lane_targets: dict[str, float], required_docs: tuple[str, ...],
          is_placeholder: Callable[[str], bool] | None = None) -> dict:
    """META_REGISTRY's document."""
    modules, duplicates = [], []
    for entry in registry["modules"]:
        if entry.get("duplicate_of"):
            # its name belongs to another manifest: listed, never scored (it has no measurements)
            duplicates.append({"name": entry["name"], "manifest": entry["manifest"],
                               "duplicate_of": entry["duplicate_of"]})
            continue
        name = entry["name"]
        coverage = coverage_block(entry, coverage_latest.get(name), lane_targets)
        performance = performance_block(entry, bench_latest.get(name))
        # ``is_placeholder(relpath)``: whether a doc is an untouched scaffold (default: read the file;
        # validate passes one that remembers by content)
        docs = docs_block(root, entry, required_docs, is_placeholder)
        scored = health(coverage, performance, docs)
        modules.append({
            "name": name, "path": entry["path"], "lane": entry["lane"], "owner": entry["owner"],
            "coverage": coverage, "performance": performance, "docs": docs,
            "tests": {"paths": entry["tests"], "last_run": (coverage_latest.get(name) or {}).get("tests")},
            HEALTH_SCORE: scored["score"], HEALTH: scored["components"],
            HEALTH_POINTS: scored["points"], HEALTH_APPLICABLE_MAX: scored["applicable_max"],
        })
    summary = {**summarize(modules), "manifests": len(registry["modules"]), "duplicates": len(duplicates)}
    return {"schema_version": SCHEMA_VERSION, "scoring": SCORING, "summary": summary,
            "modules": modules, "duplicates": duplicates}


def summarize(modules: list[dict]) -> dict:
    scores = [m["health_score"] for m in modules]
    lanes: dict[str, dict] = {}
    for m in modules:
        lane = lanes.setdefault(m["lane"] or "none", {"modules": 0, "scores": []})
        lane["modules"] += 1
        lane["scores"].append(m["health_score"])
    return {
        "modules": len(modules),
        "with_coverage": sum(m["coverage"]["observed"] is not None for m in modules),
        "with_benchmarks": sum(m["performance"]["p95_ms"] is not None for m in modules),
        "meeting_coverage_target": sum(m["coverage"]["meets_target"] is True for m in modules),
        "meeting_sla": sum(m["performance"]["meets_sla"] is True for m in modules),
        "avg_health": _num(statistics.fmean(scores)) if scores else None,
        "median_health": _num(statistics.median(scores)) if scores else None,
        "by_lane": {lane: {"modules": v["modules"], "avg_health": _num(statistics.fmean(v["scores"]))}
                    for lane, v in sorted(lanes.items())},
    }
