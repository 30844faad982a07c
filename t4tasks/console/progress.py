"""Human lines about measurements: one when each ends, and live ones while a long one runs."""

from __future__ import annotations

import sys
from collections.abc import Callable

from t4tasks.ledgers import records
from t4tasks.measure import session_progress

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
    why = records.reason_of(entry)
    return f"{kind}:{module} {status} {shown}{took}{OUTCOMES.get(entry.get('outcome'), '')}" + (f" · {why}" if why else "")


def ticker(label: str, progress_file: str) -> Callable[[float], None]:
    """A ``tick(elapsed)`` that prints the task, tests done of total, elapsed time and ETA."""
    def tick(elapsed: float) -> None:
        found = session_progress.read(progress_file)
        if found is None:
            print(f"  {label} collecting tests · {clock(elapsed)}", file=sys.stdout, flush=True)
            return
        done, total = found
        eta = f" · ETA {clock(elapsed * (total - done) / done)}" if 0 < done < total else ""
        print(f"  {label} {done}/{total} tests · {clock(elapsed)}{eta}", file=sys.stdout, flush=True)

    return tick


def clock(seconds: float) -> str:
    """Seconds as ``<s>s`` under a minute, else ``<m>m<ss>s``."""
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
