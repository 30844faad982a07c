"""Trend CSVs: the coverage and benchmark ledgers as one row per module per UTC day."""
# The ledgers keep every measurement; a trend keeps the day's last one, so a module measured ten
# times on a busy day still draws one point, and deltas compare days, not reruns.
#
# Unknown is not zero: an entry whose run produced no number (``coverage`` null, ``summary`` null)
# is left out, while a measured ``0.0`` is a value like any other. A benchmark delta only compares
# runs on the same machine and interpreter (same ``env_fingerprint``): across environments the
# difference measures the hardware, not the code.
#
# Deltas are computed from the rounded values as exact decimals, so each delta is exactly the
# difference of the two numbers shown. Numbers are written in fixed point, never with ``repr``, so
# the same ledgers give byte-identical CSVs on any platform: coverage percentages with 2 decimals,
# milliseconds with 4 (below the run-to-run noise of any benchmark).
#
# This module owns the CSV field names; nothing reads the wall clock.

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from t4tasks.ledgers import ledger, records
from t4tasks.problems import Problem
from t4tasks.speed import atomic

# the trend CSVs' columns (the dashboard reads them by these names)
DATE, MODULE, COVERAGE_PCT, P95_MS, ENV_FINGERPRINT = "date", "module", "coverage_pct", "p95_ms", "env_fingerprint"
COVERAGE_FIELDS = [DATE, MODULE, COVERAGE_PCT, "delta_from_previous"]
BENCH_FIELDS = [DATE, MODULE, "p50_ms", P95_MS, "p99_ms", "delta_p95", ENV_FINGERPRINT]

COVERAGE_LEDGER = records.ledger_file(records.COVERAGE)
BENCH_LEDGER = records.ledger_file(records.BENCH)
COVERAGE_TREND = "coverage_trend.csv"
BENCH_TREND = "bench_trend.csv"

COVERAGE_PLACES = 2
MS_PLACES = 4
PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")


def coverage_rows(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Coverage trend rows: the last known coverage per module per day, with the change since the last."""
    rows = []
    previous: dict[str, Decimal] = {}
    for (date, module), entry in _last_per_day(entries, "coverage", _coverage_value).items():
        value = _fixed(_coverage_value(entry), COVERAGE_PLACES)
        before = previous.get(module)  # the previous day that has a value
        previous[module] = value
        rows.append({
            "date": date,
            "module": module,
            "coverage_pct": str(value),
            "delta_from_previous": "" if before is None else str(value - before),
        })
    return rows


def bench_rows(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Benchmark trend rows: the last summary per module per day."""
    rows = []
    previous_p95: dict[tuple[str, str], Decimal] = {}
    for (date, module), entry in _last_per_day(entries, "bench", _bench_summary).items():
        summary = _bench_summary(entry)
        values = {name: _fixed(summary[name], MS_PLACES) for name in PERCENTILES}
        fingerprint = entry.get("env_fingerprint")
        # against the latest earlier row of the same module and fingerprint: empty when there is none,
        # or when the fingerprint is unknown
        delta = ""
        if isinstance(fingerprint, str) and fingerprint:
            before = previous_p95.get((module, fingerprint))
            if before is not None:
                delta = str(values["p95_ms"] - before)
            previous_p95[(module, fingerprint)] = values["p95_ms"]
        rows.append({
            "date": date,
            "module": module,
            **{name: str(value) for name, value in values.items()},
            "delta_p95": delta,
            "env_fingerprint": fingerprint if isinstance(fingerprint, str) else "",
        })
    return rows


def csv_text(fields: list[str], rows: Iterable[Mapping[str, str]]) -> str:
    """``rows`` as CSV text with ``\\n`` line endings."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def render(ledger_dir: Path) -> tuple[dict[str, str], list[Problem]]:
    """Both trend CSVs' text by file name, from the ledgers in ``ledger_dir``, and the ledger problems."""
    # Problems: lines the reader skipped and values present but not numbers, for the trends check.
    # A missing ledger gives a header-only CSV.
    problems: list[Problem] = []
    coverage = _entries(ledger_dir / COVERAGE_LEDGER, "coverage", _coverage_problem, problems)
    bench = _entries(ledger_dir / BENCH_LEDGER, "bench", _bench_problem, problems)
    return {COVERAGE_TREND: csv_text(COVERAGE_FIELDS, coverage_rows(coverage)),
            BENCH_TREND: csv_text(BENCH_FIELDS, bench_rows(bench))}, problems


def write(trends_dir: Path, texts: Mapping[str, str]) -> list[str]:
    """Write the trend CSVs ``render`` made (so the targets always exist); return the names that changed."""
    # an unchanged trend is not rewritten: stable mtimes, quiet doit
    return [name for name, text in texts.items() if atomic.write_text(trends_dir / name, text)]


def _entries(
    path: Path, kind: str, problem_of: Callable[[Mapping[str, Any]], str | None],
    problems: list[Problem],
) -> list[dict[str, Any]]:
    """The ledger's entries of ``kind``, minus (and reporting) those with a malformed value."""
    if not path.exists():
        return []
    entries = []
    for entry in ledger.read(path, problems):
        if entry[ledger.KIND] != kind:
            continue
        message = problem_of(entry)
        if message is None:
            entries.append(entry)
        else:
            problems.append(Problem(str(path), f"left out of the trend: {message}",
                                    entry[ledger.LINE]))
    return entries


def _last_per_day(
    entries: Iterable[Mapping[str, Any]], kind: str, value_of: Callable[[Mapping[str, Any]], Any],
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The last entry with a value per (UTC date, module), in (module, date) order."""
    last: dict[tuple[str, str], Mapping[str, Any]] = {}
    known = [e for e in entries if e.get(ledger.KIND, kind) == kind and value_of(e) is not None]
    # ``ts`` is normalised UTC ISO: its first ten characters are the UTC date and string order is time
    # order; entries with the same ``ts`` keep their ledger order (the later line wins)
    for entry in sorted(known, key=lambda e: e[ledger.TS]):
        last[(entry[ledger.TS][:10], entry[ledger.MODULE])] = entry
    return {key: last[key] for key in sorted(last, key=lambda k: (k[1], k[0]))}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coverage_value(entry: Mapping[str, Any]) -> float | None:
    """The entry's coverage percentage, or None when it is unknown."""
    value = entry.get(ledger.COVERAGE)
    return float(value) if _is_number(value) else None


def _bench_summary(entry: Mapping[str, Any]) -> Mapping[str, float] | None:
    """The entry's summary when it has all three percentiles as numbers, else None (unknown)."""
    summary = entry.get("summary")
    if isinstance(summary, Mapping) and all(_is_number(summary.get(p)) for p in PERCENTILES):
        return summary
    return None


def _coverage_problem(entry: Mapping[str, Any]) -> str | None:
    """Why a present coverage value cannot be used; None for a number or an explicit null."""
    value = entry.get(ledger.COVERAGE)
    if value is None or _is_number(value):
        return None
    return f"{ledger.COVERAGE}: {value!r} is not a number"


def _bench_problem(entry: Mapping[str, Any]) -> str | None:
    """Why a present summary cannot be used; None for a complete summary or an explicit null."""
    summary = entry.get("summary")
    if summary is None or _bench_summary(entry) is not None:
        return None
    return f"summary: {summary!r} lacks numeric {', '.join(PERCENTILES)}"


def _fixed(value: float, places: int) -> Decimal:
    """``value`` rounded to ``places`` decimals, exact from here on (so deltas add up)."""
    return Decimal(f"{value:.{places}f}")
