"""``docs/_generated/metrics.prom``: written by ``t4 metrics`` (and the default run), read back
with prometheus_client's own parser."""

from __future__ import annotations

from datetime import datetime

import orjson
from prometheus_client.parser import text_string_to_metric_families

from t4tasks.outputs import metrics
from tests.checks.ci_repo import repo, shared  # noqa: F401  (fixtures, shared with the other CI tests)
from tests.support import ledger_lines, t4_run

PROM = "docs/_generated/metrics.prom"




def samples(text: str) -> dict[tuple[str, str, str], float]:
    return {(s.name, s.labels["module"], s.labels["lane"]): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_prom_parses_and_carries_each_gauge(repo):
    code, executed, _, out = t4_run(repo, "metrics")
    assert code == 0 and "metrics" in executed, out
    text = (repo / PROM).read_text(encoding="utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) == set(metrics.GAUGES)
    assert all(f.type == "gauge" for f in families.values())
    found = samples(text)
    entries = {e["module"]: e for e in ledger_lines(repo / "manifests/.ledger/coverage.ndjson")}
    assert found["t4_coverage_percent", "alpha", "L1"] == entries["alpha"]["coverage"] == 53.85
    assert found["t4_line_coverage_percent", "alpha", "L1"] == entries["alpha"]["line_pct"]
    assert found["t4_branch_coverage_percent", "alpha", "L1"] == entries["alpha"]["branch_pct"]
    assert found["t4_coverage_target_percent", "beta", "L2"] == 80.0
    meta = {m["name"]: m for m in orjson.loads((repo / "docs/_generated/META_REGISTRY.json").read_bytes())["modules"]}
    assert found["t4_health_score", "beta", "L2"] == meta["beta"]["health_score"]
    assert found["t4_last_measured_timestamp_seconds", "alpha", "L1"] == datetime.fromisoformat(entries["alpha"]["ts"]).timestamp()
    # beta has no branches and no module has benchmarks: no sample rather than a made-up zero
    assert ("t4_branch_coverage_percent", "beta", "L2") not in found
    assert not any(name.startswith("t4_latency") or name == "t4_sla_met" for name, _, _ in found)


def test_the_default_run_writes_it_and_a_second_run_leaves_it(repo):
    code, executed, _, out = t4_run(repo)
    assert "metrics" in executed and (repo / PROM).is_file(), out
    before = (repo / PROM).read_bytes()
    code, executed, _, out = t4_run(repo)
    assert "metrics" not in executed, out
    assert (repo / PROM).read_bytes() == before


def test_benchmarks_sla_and_quoted_labels_round_trip():
    meta = {"modules": [{
        "name": 'we"ird\\name', "lane": None, "health_score": 80.0,
        "coverage": {"observed": 100.0, "target": None, "observed_at": "2026-01-01T00:00:00+00:00"},
        "performance": {"p50_ms": 1.5, "p95_ms": 2.25, "p99_ms": 3.0, "meets_sla": False,
                        "observed_at": "2026-01-02T00:00:00+00:00"}}]}
    found = samples(metrics.render(meta, {}))
    key = ('we"ird\\name', "none")
    assert found[("t4_latency_p95_milliseconds", *key)] == 2.25
    assert found[("t4_sla_met", *key)] == 0.0
    assert found[("t4_last_measured_timestamp_seconds", *key)] == 1767312000.0
