"""One human line per finished measurement, e.g. ``coverage:memory ok 81.2% (3.1 s)``."""

from __future__ import annotations

from t4tasks.ledgers import records

# what a result file's "outcome" adds to its line (a recorded run adds nothing)
OUTCOMES = {"unchanged": " · unchanged (same key and values as the latest record)",
            "from_ledger": " · up to date from the ledger (not measured)"}


def line(kind: str, module: str, entry: dict) -> str:
    status = records.status_of(entry) if entry else "?"
    if kind == "coverage":
        value = entry.get("coverage")
        shown = f"{value:.2f}%" if isinstance(value, (int, float)) else "no coverage"
    else:
        summary = entry.get("summary") or {}
        p95 = summary.get("p95_ms")
        shown = f"p95 {p95:.4g} ms ({summary.get('benchmark')})" if isinstance(p95, (int, float)) else "no benchmarks"
    duration = entry.get("duration_s")
    took = f" ({duration:.1f} s)" if isinstance(duration, (int, float)) else ""
    return f"{kind}:{module} {status} {shown}{took}{OUTCOMES.get(entry.get('outcome'), '')}"
