"""Trend CSVs from real ledger files: unknown is not zero, one row per day, honest deltas."""

from __future__ import annotations

import csv
import shutil
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from t4tasks.ledgers import ledger
from t4tasks.outputs import trends

LUKHAS = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "lukhas"


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 10, day, hour, tzinfo=timezone.utc)


def add_coverage(ledger_dir: Path, module: str, coverage: float | None, ts: datetime) -> None:
    values = {"coverage": coverage, "status": "ok" if coverage is not None else "no-data"}
    record = ledger.new_record("coverage", module, values, f"{module}-{ts.isoformat()}", ts=ts)
    assert ledger.append(ledger_dir / trends.COVERAGE_LEDGER, record)


def add_bench(ledger_dir: Path, module: str, p95: float, fingerprint: str, ts: datetime) -> None:
    summary = {"benchmark": "test_hot_path", "p50_ms": p95 / 2, "p95_ms": p95, "p99_ms": p95 * 2}
    values = {"summary": summary, "env_fingerprint": fingerprint, "status": "ok"}
    record = ledger.new_record("bench", module, values, f"{module}-{ts.isoformat()}", ts=ts)
    assert ledger.append(ledger_dir / trends.BENCH_LEDGER, record)


def add_lines(path: Path, *entries: dict) -> None:
    """Hand-written legacy lines, as older tools wrote them (no envelope, no chain)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        for entry in entries:
            handle.write(orjson.dumps(entry) + b"\n")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def build(tmp_path: Path) -> tuple[list[str], list, list[dict[str, str]], list[dict[str, str]]]:
    texts, problems = trends.render(tmp_path / "ledger")
    changed = trends.write(tmp_path / "trends", texts)
    coverage = read_csv(tmp_path / "trends" / trends.COVERAGE_TREND)
    bench = read_csv(tmp_path / "trends" / trends.BENCH_TREND)
    return changed, problems, coverage, bench


def test_zero_coverage_is_a_value_and_unknown_is_skipped(tmp_path):
    ledger_dir = tmp_path / "ledger"
    add_coverage(ledger_dir, "memory", 12.5, at(1))
    add_coverage(ledger_dir, "memory", 0.0, at(2))
    add_coverage(ledger_dir, "memory", None, at(3))  # no number: unknown, not a drop to zero
    add_coverage(ledger_dir, "memory", 7.25, at(4))

    _, problems, coverage, _ = build(tmp_path)

    assert problems == []
    assert [list(row.values()) for row in coverage] == [
        ["2025-10-01", "memory", "12.50", ""],
        ["2025-10-02", "memory", "0.00", "-12.50"],
        ["2025-10-04", "memory", "7.25", "7.25"],
    ]
    assert list(coverage[0]) == trends.COVERAGE_FIELDS


def test_legacy_field_names_mix_with_current_ones(tmp_path):
    ledger_dir = tmp_path / "ledger"
    path = ledger_dir / trends.COVERAGE_LEDGER
    add_lines(path,
              {"timestamp": "2025-10-01T09:00:00+00:00", "module": "id", "coverage_pct": 30.0},
              {"ts": "2025-10-02T09:00:00Z", "module": "id", "coverage": 31.0})
    add_coverage(ledger_dir, "id", 35.5, at(3))

    _, problems, coverage, _ = build(tmp_path)

    assert problems == []
    assert [(r["date"], r["coverage_pct"], r["delta_from_previous"]) for r in coverage] == [
        ("2025-10-01", "30.00", ""),
        ("2025-10-02", "31.00", "1.00"),
        ("2025-10-03", "35.50", "4.50"),
    ]


def test_naive_timestamp_line_is_reported_with_its_line_and_skipped(tmp_path):
    path = tmp_path / "ledger" / trends.COVERAGE_LEDGER
    add_lines(path,
              {"ts": "2025-10-01T09:00:00+00:00", "module": "memory", "coverage": 10.0},
              {"ts": "2025-10-02T09:00:00", "module": "memory", "coverage": 99.0},
              {"ts": "2025-10-03T09:00:00+00:00", "module": "memory", "coverage": 11.0})

    _, problems, coverage, _ = build(tmp_path)

    assert [(p.path, p.line) for p in problems] == [(str(path), 2)]
    assert "naive" in problems[0].message
    assert [(r["date"], r["coverage_pct"], r["delta_from_previous"]) for r in coverage] == [
        ("2025-10-01", "10.00", ""), ("2025-10-03", "11.00", "1.00"),
    ]


def test_a_non_numeric_value_is_reported_not_read_as_unknown(tmp_path):
    path = tmp_path / "ledger" / trends.COVERAGE_LEDGER
    add_lines(path, {"ts": "2025-10-01T09:00:00+00:00", "module": "memory", "coverage": "84%"})

    _, problems, coverage, _ = build(tmp_path)

    assert [(p.path, p.line) for p in problems] == [(str(path), 1)]
    assert "'84%' is not a number" in problems[0].message
    assert coverage == []


def test_several_values_in_one_utc_day_give_one_row_with_the_last(tmp_path):
    ledger_dir = tmp_path / "ledger"
    add_coverage(ledger_dir, "memory", 40.0, at(1, 23))  # appended first, but latest in the day
    add_coverage(ledger_dir, "memory", 20.0, at(1, 1))
    add_coverage(ledger_dir, "memory", 30.0, at(1, 12))
    late = datetime(2025, 10, 1, 23, 30, tzinfo=timezone.utc)
    add_coverage(ledger_dir, "memory", None, late)  # unknown never replaces the day's value
    add_coverage(ledger_dir, "memory", 50.0, at(2, 0))  # next UTC day

    _, _, coverage, _ = build(tmp_path)

    assert [(r["date"], r["coverage_pct"], r["delta_from_previous"]) for r in coverage] == [
        ("2025-10-01", "40.00", ""), ("2025-10-02", "50.00", "10.00"),
    ]


def test_bench_delta_only_within_the_same_fingerprint(tmp_path):
    ledger_dir = tmp_path / "ledger"
    add_bench(ledger_dir, "memory", 2.0, "laptop", at(1))
    add_bench(ledger_dir, "memory", 2.5, "laptop", at(2))
    add_bench(ledger_dir, "memory", 9.0, "ci-runner", at(3))  # other machine: no delta
    add_bench(ledger_dir, "memory", 9.5, "ci-runner", at(4))
    add_bench(ledger_dir, "memory", 2.25, "laptop", at(5))  # compared with the laptop's last day

    _, problems, _, bench = build(tmp_path)

    assert problems == []
    assert [(r["date"], r["p95_ms"], r["delta_p95"], r["env_fingerprint"]) for r in bench] == [
        ("2025-10-01", "2.0000", "", "laptop"),
        ("2025-10-02", "2.5000", "0.5000", "laptop"),
        ("2025-10-03", "9.0000", "", "ci-runner"),
        ("2025-10-04", "9.5000", "0.5000", "ci-runner"),
        ("2025-10-05", "2.2500", "-0.2500", "laptop"),
    ]
    assert (bench[0]["p50_ms"], bench[0]["p99_ms"]) == ("1.0000", "4.0000")


def test_rows_are_sorted_by_module_then_date(tmp_path):
    ledger_dir = tmp_path / "ledger"
    add_coverage(ledger_dir, "zeta", 1.0, at(1))
    add_coverage(ledger_dir, "alpha", 2.0, at(2))
    add_coverage(ledger_dir, "alpha", 3.0, at(1))

    _, _, coverage, _ = build(tmp_path)

    assert [(r["module"], r["date"]) for r in coverage] == [
        ("alpha", "2025-10-01"), ("alpha", "2025-10-02"), ("zeta", "2025-10-01"),
    ]


def test_rebuild_is_byte_identical_and_changes_nothing(tmp_path):
    ledger_dir = tmp_path / "ledger"
    add_coverage(ledger_dir, "memory", 1 / 3, at(1))
    add_bench(ledger_dir, "memory", 1 / 7, "laptop", at(1))
    changed, _, _, _ = build(tmp_path)
    outputs = [tmp_path / "trends" / name for name in (trends.COVERAGE_TREND, trends.BENCH_TREND)]
    first = [p.read_bytes() for p in outputs]

    shutil.rmtree(tmp_path / "trends")
    rebuilt, _, _, _ = build(tmp_path)
    again, _, _, _ = build(tmp_path)

    assert changed == rebuilt == [trends.COVERAGE_TREND, trends.BENCH_TREND]
    assert again == []
    assert [p.read_bytes() for p in outputs] == first
    assert first[0] == b"date,module,coverage_pct,delta_from_previous\n2025-10-01,memory,0.33,\n"


def test_missing_ledgers_give_header_only_csvs(tmp_path):
    changed, problems, coverage, bench = build(tmp_path)

    assert changed == [trends.COVERAGE_TREND, trends.BENCH_TREND]
    assert problems == [] and coverage == [] and bench == []
    header = ",".join(trends.BENCH_FIELDS) + "\n"
    assert (tmp_path / "trends" / trends.BENCH_TREND).read_text() == header


@pytest.mark.skipif(not LUKHAS.is_dir(), reason="shared lukhas fixture not present")
def test_lukhas_coverage_ledger_gives_one_row_per_module(tmp_path):
    (tmp_path / "ledger").mkdir()
    shutil.copy(LUKHAS / "manifests" / ".ledger" / "coverage.ndjson",
                tmp_path / "ledger" / trends.COVERAGE_LEDGER)

    _, problems, coverage, bench = build(tmp_path)

    assert problems == [] and bench == []
    assert len(coverage) == 5
    assert {r["module"]: r["coverage_pct"] for r in coverage} == {
        "consciousness": "4.12", "governance": "0.23", "identity": "36.50",
        "matriz": "1.98", "memory": "18.53",
    }
    assert {r["date"] for r in coverage} == {"2025-10-05"}
    assert {r["delta_from_previous"] for r in coverage} == {""}
