"""Ledger invariants on real files and real processes: whole lines, no duplicates, UTC, a chain."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from t4tasks.ledgers import ledger

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "lukhas"

WRITER = """
import sys
from t4tasks.ledgers import ledger
path, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    record = ledger.new_record("coverage", "m" + worker, {"coverage": i}, f"{worker}-{i}")
    assert ledger.append(path, record)
"""


def entry(module: str, digest: str, **values) -> dict:
    return ledger.new_record("coverage", module, values, digest)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


@pytest.mark.slow
def test_eight_processes_append_4000_whole_lines_and_the_chain_verifies(tmp_path):
    path = tmp_path / "ledger" / "coverage.ndjson"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), "500"], env=env)
        for w in range(8)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0] * 8

    data = path.read_bytes()
    assert data.endswith(b"\n")
    records = [json.loads(line) for line in data.splitlines()]
    assert len(records) == 4000
    for w in range(8):  # every writer's entries, in its own order
        assert [r["coverage"] for r in records if r["module"] == f"m{w}"] == list(range(500))
    assert ledger.verify_chain(path) == []


def test_torn_last_line_is_reported_and_the_next_append_starts_a_new_line(tmp_path):
    path = tmp_path / "coverage.ndjson"
    assert ledger.append(path, entry("memory", "d1", coverage=50.0))
    whole = orjson.dumps(entry("memory", "d2", coverage=60.0))
    with path.open("ab") as handle:  # a writer killed halfway through its line
        handle.write(whole[: len(whole) // 2])

    problems: list = []
    assert [e["coverage"] for e in ledger.read(path, problems)] == [50.0]
    assert [(p.line, "JSON" in p.message) for p in problems] == [(2, True)]
    assert str(problems[0]).startswith(f"{path}:2: ")

    assert ledger.append(path, entry("memory", "d3", coverage=70.0))
    assert len(lines(path)) == 3
    problems = []
    read = [(e["coverage"], e["_line"]) for e in ledger.read(path, problems)]
    assert read == [(50.0, 1), (70.0, 3)]
    assert [p.line for p in problems] == [2]
    assert ledger.verify_chain(path) == []


def test_same_inputs_append_once_and_new_inputs_append_again(tmp_path):
    path = tmp_path / "deep" / "coverage.ndjson"
    assert ledger.append(path, entry("memory", "d1", coverage=50.0))
    assert not ledger.append(path, entry("memory", "d1", coverage=50.0))  # rerun after a crash
    assert len(lines(path)) == 1

    assert ledger.append(path, entry("identity", "d1", coverage=10.0))  # same digest, other module
    assert ledger.append(path, entry("memory", "d2", coverage=55.0))
    assert ledger.append(path, entry("memory", "d1", coverage=50.0))  # back to the first inputs
    # same key, other values: a new observation, recorded
    assert ledger.append(path, ledger.new_record("coverage", "memory", {}, "d1"))
    assert ledger.append(path, ledger.new_record("bench", "memory", {}, "d1"))  # other kind
    assert len(lines(path)) == 6


def test_naive_timestamps_are_refused_on_write_and_reported_on_read(tmp_path):
    naive = datetime(2025, 10, 5, 9, 0, 0)
    with pytest.raises(ValueError, match=r"^ts: naive"):
        ledger.new_record("coverage", "memory", {}, "d1", ts=naive)
    with pytest.raises(ValueError, match=r"^ts: naive"):
        ledger.append(tmp_path / "c.ndjson", {**entry("memory", "d1"), "ts": "2025-10-05T09:00:00"})
    with pytest.raises(ValueError, match=r"^started: naive"):
        ledger.append(tmp_path / "c.ndjson", entry("memory", "d1", started=naive))
    assert not (tmp_path / "c.ndjson").exists()

    path = tmp_path / "coverage.ndjson"
    path.write_text(
        '{"ts": "2025-10-05T09:00:00Z", "module": "a", "coverage": 1}\n'
        '{"ts": "2025-10-05T09:00:00", "module": "b", "coverage": 2}\n'
        '{"ts": "2025-10-05T11:00:00+02:00", "module": "c", "coverage": 3}\n'
        '{"ts": "yesterday", "module": "d", "coverage": 4}\n'
        '{"timestamp": "2025-10-05T09:00:00.000000+00:00", "module": "e", "coverage": 5}\n'
    )
    problems: list = []
    read = {e["module"]: e["ts"] for e in ledger.read(path, problems)}
    assert read == dict.fromkeys("ace", "2025-10-05T09:00:00.000000+00:00")
    assert [(p.line, p.message.split(": ", 2)[1]) for p in problems] == [(2, "ts"), (4, "ts")]
    assert "naive" in problems[0].message and "unparseable" in problems[1].message


def test_format_and_parse_round_trip_in_utc():
    moment = datetime(2025, 10, 5, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    text = ledger.format_ts(moment)
    assert text == "2025-10-05T07:00:00.000000+00:00"
    assert ledger.parse_ts(text) == ledger.parse_ts("2025-10-05T07:00:00Z") == moment
    assert ledger.utc_now().utcoffset() == timedelta(0)


def test_other_malformed_lines_are_reported_and_reading_goes_on(tmp_path):
    path = tmp_path / "bench.ndjson"
    path.write_bytes(
        b'{"ts": "2025-10-05T09:00:00Z", "module": "a"}\n'
        b"[1, 2]\n"
        b'{"ts": "2025-10-05T09:00:00Z"}\n'
        b'{"ts": "2025-10-05T09:00:00Z", "module": "caf\xe9"}\n'
        b"\n"
        b'{"ts": "2025-10-05T09:00:00Z", "module": "b", "kind": "coverage"}\n'
    )
    problems: list = []
    assert [(e["module"], e["kind"], e["_line"]) for e in ledger.read(path, problems)] == [
        ("a", "bench", 1), ("b", "coverage", 6)
    ]
    assert [p.line for p in problems] == [2, 3, 4]
    assert "object" in problems[0].message
    assert "module" in problems[1].message
    assert "UTF-8" in problems[2].message


def test_old_field_names_and_kinds_from_file_names(tmp_path):
    (tmp_path / "coverage.ndjson").write_text(
        '{"timestamp": "2025-10-01T00:00:00Z", "module": "a", "coverage_pct": 10.0}\n'
        '{"ts": "2025-10-02T00:00:00Z", "module": "a", "coverage": 20.0}\n'
        '{"ts": "2025-10-02T00:00:00Z", "module": "b", "coverage": 30.0, "kind": "bench"}\n'
    )
    (tmp_path / "memory.ndjson").write_text(
        '{"module": "memory", "timestamp": "2025-10-03T01:02:42+00:00", "sha": "x"}\n'
    )
    first = next(ledger.read(tmp_path / "coverage.ndjson"))
    assert first["coverage"] == first["coverage_pct"] == 10.0
    assert first["ts"] == "2025-10-01T00:00:00.000000+00:00" and first["kind"] == "coverage"
    coverage = ledger.latest(tmp_path / "coverage.ndjson", kind="coverage")
    assert {m: e["coverage"] for m, e in coverage.items()} == {"a": 20.0}
    assert next(ledger.read(tmp_path / "memory.ndjson"))["kind"] == "manifest_edit"


def test_verify_chain_reports_an_edited_and_a_deleted_line(tmp_path):
    path = tmp_path / "coverage.ndjson"
    for i in range(5):
        ledger.append(path, entry("memory", f"d{i}", coverage=float(i)))
    assert ledger.verify_chain(path) == []
    original = lines(path)

    edited = list(original)
    edited[2] = edited[2].replace(b'"coverage":2.0', b'"coverage":99.0')
    assert edited[2] != original[2]
    path.write_bytes(b"\n".join(edited) + b"\n")
    assert [p.line for p in ledger.verify_chain(path)] == [3]

    path.write_bytes(b"\n".join(original[:2] + original[3:]) + b"\n")
    problems = ledger.verify_chain(path)
    assert [p.line for p in problems] == [2] and "deleted" in problems[0].message

    path.write_bytes(b"\n".join(original[1:]) + b"\n")
    assert [p.line for p in ledger.verify_chain(path)] == [1]


def test_a_legacy_ledger_extended_by_t4_still_verifies(tmp_path):
    path = tmp_path / "coverage.ndjson"
    path.write_text('{"ts": "2025-10-05T10:10:40+00:00", "module": "memory", "coverage": 4.12}\n')
    assert ledger.append(path, entry("memory", "d1", coverage=5.0))
    first, second = lines(path)
    assert json.loads(second)["prev"] == hashlib.sha256(first).hexdigest()
    assert ledger.verify_chain(path) == []


def test_new_record_carries_the_envelope_and_refuses_reserved_values():
    record = ledger.new_record("bench", "memory", {"mean_s": 0.5}, "abc", git_commit="f00")
    assert record == {
        "schema": "t4.ledger/1", "kind": "bench", "module": "memory", "ts": record["ts"],
        "tool": f"t4tasks {ledger.__version__}", "git_commit": "f00", "input_digest": "abc",
        "mean_s": 0.5,
    }
    ledger.parse_ts(record["ts"])
    with pytest.raises(ValueError, match="^module"):
        ledger.new_record("bench", "memory", {"module": "other"}, "abc")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_head_is_none_until_the_first_commit(tmp_path):
    assert ledger.git_head(tmp_path) is None
    git = ["git", "-c", "user.name=t4", "-c", "user.email=t4@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    assert ledger.git_head(tmp_path) is None
    (tmp_path / "a.txt").write_text("a\n")
    subprocess.run([*git, "add", "a.txt"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert len(head.stdout.strip()) == 40
    assert ledger.git_head(tmp_path) == head.stdout.strip()


def test_real_ledgers_read_without_problems(tmp_path):
    source = FIXTURES / "manifests" / ".ledger"
    if not source.is_dir():
        pytest.skip(f"{FIXTURES} is absent")
    copy = shutil.copytree(source, tmp_path / ".ledger")
    problems: list = []

    coverage = list(ledger.read(copy / "coverage.ndjson", problems))
    assert [(e["module"], e["kind"], e["_line"]) for e in coverage][:2] == [
        ("consciousness", "coverage", 1), ("memory", "coverage", 2)
    ]
    assert coverage[0]["ts"] == "2025-10-05T10:10:40.649802+00:00"
    assert len(coverage) == 5 and all(isinstance(e["coverage"], float) for e in coverage)

    edits = ledger.latest(copy / "consciousness.ndjson", problems=problems)
    assert edits["consciousness"]["kind"] == "manifest_edit"
    assert edits["consciousness"]["ts"] == edits["consciousness"]["timestamp"]
    assert edits["consciousness"]["_line"] == 3
    assert problems == []
    assert ledger.verify_chain(copy / "coverage.ndjson") == []


def test_a_preloaded_ledger_is_read_and_chained_without_parsing_it_again(tmp_path, monkeypatch):
    # validate preloads the ledgers before it forks: the children must inherit, not parse again
    path = tmp_path / "coverage.ndjson"
    for i in range(3):
        assert ledger.append(path, entry(f"m{i}", f"d{i}", coverage=50.0 + i))
    ledger.preload(path)
    ledger.preload(tmp_path / "absent.ndjson")  # nothing recorded yet: nothing to read

    def parse_again(*args):
        raise AssertionError("parsed again")
    monkeypatch.setattr(ledger, "_parse", parse_again)
    monkeypatch.setattr(ledger, "_loads", parse_again)
    assert [e["module"] for e in ledger.read(path)] == ["m0", "m1", "m2"]
    assert ledger.verify_chain(path) == []
    # an append is a new version of the file: that one is parsed
    monkeypatch.undo()
    assert ledger.append(path, entry("m3", "d3", coverage=60.0))
    monkeypatch.setattr(ledger, "_parse", parse_again)
    with pytest.raises(AssertionError, match="parsed again"):
        list(ledger.read(path))
