"""``META_REGISTRY.json``: the registry fused with the latest measurements, and a health score.

The score (0-100) is the sum of three components, each explained in the file:

* coverage, up to 50: observed coverage / 2, capped at 50;
* SLA, 30: only when the module has a latency target AND a benchmark observation AND meets it;
* docs, up to 20: the share of required docs that exist and are not untouched scaffolds.

Unknown is never zero: a component with nothing to judge has ``points: null`` and a ``reason``,
and counts 0 towards the total (the total is always a number, so ``jq`` filters work).
"""

from __future__ import annotations

import posixpath
import statistics
from collections.abc import Callable
from pathlib import Path

from t4tasks.ledgers import records
from t4tasks.scaffolding import marker

SCHEMA_VERSION = "t4.meta/1"
META_NAME = "META_REGISTRY.json"
COVERAGE_MAX, SLA_MAX, DOCS_MAX = 50.0, 30.0, 20.0

SCORING = {
    "total": "coverage + sla + docs, 0-100; a component with points null (unknown) adds 0",
    "coverage": f"min({COVERAGE_MAX:g}, observed coverage percent / 2); null when never measured",
    "sla": f"{SLA_MAX:g} when a p95/p99 latency target exists, a benchmark was observed and every "
           "target is met; 0 when missed; null when target or observation is missing",
    "docs": f"{DOCS_MAX:g} x (required docs present and not untouched scaffolds) / (required docs)",
}


def _num(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def coverage_block(entry: dict, record: dict | None, lane_targets: dict[str, float]) -> dict:
    target = entry.get("coverage_target")
    if target is None and entry.get("lane") in lane_targets:
        target = lane_targets[entry["lane"]]
    observed = record.get("coverage") if record else None
    block = {
        "observed": _num(observed),
        "target": _num(target),
        "delta": _num(observed - target) if observed is not None and target is not None else None,
        "meets_target": (observed >= target) if observed is not None and target is not None else None,
        "status": records.status_of(record) if record else "no_observation",
        "observed_at": record.get("ts") if record else None,
    }
    if entry.get("no_tests"):
        block["no_tests"] = True  # declared in the manifest: testing.no_tests
    if target is None:
        block["reason"] = "no coverage target: the module has no lane and no testing.coverage_target"
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
        block["no_benchmarks"] = True  # declared in the manifest: performance.no_benchmarks
    if meets is None:
        block["reason"] = "no latency target in the manifest" if not sla else "no benchmark observation"
    return block


def read_placeholder(root: Path) -> Callable[[str], bool]:
    """Whether a doc is an untouched scaffold, read from the file."""
    return lambda relpath: marker.is_placeholder((root / relpath).read_text("utf-8", "replace"))


def docs_block(root: Path, entry: dict, required: tuple[str, ...],
               is_placeholder: Callable[[str], bool] | None = None) -> dict:
    base = "" if entry["path"] == "." else entry["path"]
    wanted = [posixpath.join(base, name) if base else name for name in required]
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
        "coverage": {"points": _num(cov_points), "max": COVERAGE_MAX,
                     "reason": f"{coverage['observed']:g}% / 2" if coverage["observed"] is not None
                     else coverage.get("reason", "never measured")},
        "sla": {"points": _num(sla_points), "max": SLA_MAX,
                "reason": performance.get("reason") or ("target met" if performance["meets_sla"] else "target missed")},
        "docs": {"points": _num(docs_points), "max": DOCS_MAX,
                 "reason": f"{len(good)} of {len(docs['required'])} required docs written"
                           + (f" ({len(docs['placeholder'])} untouched scaffold)" if docs["placeholder"] else "")},
    }
    total = sum(part["points"] or 0.0 for part in parts.values())
    return {"score": _num(total), "components": parts}


def build(root: Path, registry: dict, coverage_latest: dict[str, dict], bench_latest: dict[str, dict],
          lane_targets: dict[str, float], required_docs: tuple[str, ...],
          is_placeholder: Callable[[str], bool] | None = None) -> dict:
    """META_REGISTRY's document. ``is_placeholder(relpath)`` says whether a doc is an untouched
    scaffold (default: read the file; validate passes one that remembers by content)."""
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
        docs = docs_block(root, entry, required_docs, is_placeholder)
        scored = health(coverage, performance, docs)
        modules.append({
            "name": name, "path": entry["path"], "lane": entry["lane"], "owner": entry["owner"],
            "coverage": coverage, "performance": performance, "docs": docs,
            "tests": {"paths": entry["tests"], "last_run": (coverage_latest.get(name) or {}).get("tests")},
            "health_score": scored["score"], "health": scored["components"],
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
