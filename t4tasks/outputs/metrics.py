"""``metrics.prom``: a Prometheus gauge per module and metric, for node_exporter's textfile collector."""
# In the text exposition format, with no sample timestamps: that collector refuses them.

from __future__ import annotations

import math
from datetime import datetime

METRICS_NAME = "metrics.prom"

# metric name -> (help text, how to read it from a META module and its latest coverage record)
GAUGES: dict[str, tuple[str, object]] = {
    "t4_coverage_percent": ("Observed coverage (lines and branches), percent",
                            lambda m, c: m["coverage"]["observed"]),
    "t4_coverage_target_percent": ("Coverage target (manifest or lane), percent",
                                   lambda m, c: m["coverage"]["target"]),
    "t4_line_coverage_percent": ("Observed line coverage, percent", lambda m, c: c.get("line_pct")),
    "t4_branch_coverage_percent": ("Observed branch coverage, percent", lambda m, c: c.get("branch_pct")),
    "t4_health_score": ("Health score, 0-100", lambda m, c: m["health_score"]),
    "t4_latency_p50_milliseconds": ("Benchmark p50 latency, ms", lambda m, c: m["performance"]["p50_ms"]),
    "t4_latency_p95_milliseconds": ("Benchmark p95 latency, ms", lambda m, c: m["performance"]["p95_ms"]),
    "t4_latency_p99_milliseconds": ("Benchmark p99 latency, ms", lambda m, c: m["performance"]["p99_ms"]),
    "t4_sla_met": ("1 when every latency target is met, 0 when one is missed",
                   lambda m, c: m["performance"]["meets_sla"]),
    "t4_last_measured_timestamp_seconds": ("Unix time of the latest coverage or benchmark record",
                                           lambda m, c: _last(m)),
}


def _last(module: dict) -> float | None:
    stamps = [s for s in (module["coverage"].get("observed_at"), module["performance"].get("observed_at")) if s]
    return max(datetime.fromisoformat(s).timestamp() for s in stamps) if stamps else None


def _label(value: object) -> str:
    """A label value as the exposition format quotes it."""
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _value(value: object) -> str | None:
    if value is None:
        return None
    number = float(value)   # booleans too: True -> 1.0
    return None if math.isnan(number) else repr(number) if not number.is_integer() else f"{number:.1f}"


def render(meta: dict, coverage_latest: dict[str, dict]) -> str:
    """The file's text: for each metric its HELP, TYPE and one sample per module that has a value."""
    modules = sorted(meta.get("modules", []), key=lambda m: m["name"])
    lines: list[str] = []
    for name, (help_text, read) in GAUGES.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for module in modules:
            value = _value(read(module, coverage_latest.get(module["name"]) or {}))
            if value is not None:
                labels = f'module="{_label(module["name"])}",lane="{_label(module.get("lane") or "none")}"'
                lines.append(f"{name}{{{labels}}} {value}")
    return "\n".join(lines) + "\n"
