"""records.py owns the ledger formats; readers check value types; torn lines heal append-only."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from t4tasks.ledgers import ledger, merge, records

from tests.support import make_repo, manifest

PACKAGE = Path(__file__).resolve().parents[2] / "t4tasks"


def test_ledger_file_names_and_the_kind_list_are_spelled_only_in_records():
    from t4tasks.ledgers import records
    names = [re.escape(name) for name in records.LEDGER_FILES.values()]
    # a ledger file name, a "<kind>.ndjson" built from a kind, or a tuple of two kinds
    kinds = "|".join(re.escape(k) for k in (*records.MEASURED_KINDS, *records.SCAFFOLD_KINDS))
    patterns = [re.compile("|".join(names)), re.compile(r'\{kind\}\.ndjson'),
                re.compile(rf'\(\s*"({kinds})"\s*,\s*"({kinds})"\s*\)')]
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "records.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if any(p.search(line) for p in patterns):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert found == []


def test_a_missing_status_has_one_meaning():
    from t4tasks.ledgers import records
    assert records.status_of({}) == records.OK and records.is_ok({"coverage": 1.0})
    assert not records.is_ok({"status": "crashed"}) and not records.is_ok(None)


def entry(module: str, digest: str, **values) -> dict:
    return ledger.new_record("coverage", module, {"status": "ok", **values}, digest)


def test_a_value_of_the_wrong_type_is_one_problem_with_its_line_never_a_crash(tmp_path):
    path = tmp_path / "coverage.ndjson"
    ledger.append(path, entry("a", "d1", coverage=50.0))
    bad = {**entry("b", "d2"), "coverage": "x"}
    with path.open("ab") as out:
        out.write(orjson.dumps(bad) + b"\n")
    ledger.append(path, entry("c", "d3", coverage=True))  # a JSON bool is no number either
    problems = []
    kept = [e["module"] for e in ledger.read(path, problems)]
    assert kept == ["a"]
    assert [(p.line, "coverage" in p.message) for p in problems] == [(2, True), (3, True)]


def test_merge_refuses_a_fragment_line_with_a_wrong_type_naming_it(tmp_path):
    root = make_repo(tmp_path / "r", {"a": manifest("a")})
    fragment = tmp_path / "coverage-1of1.ndjson"
    good = entry("a", "d1", coverage=50.0)
    fragment.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps({**entry("a", "d2"), "tests": "many"}) + b"\n")
    counts = merge.merge(root, Path("manifests/.ledger"), [fragment], {"a": Path("a/module.manifest.json")})
    assert counts["appended"] == 1
    assert any(f"{fragment}:2" in p and "tests" in p for p in counts["problems"]), counts["problems"]


def test_a_torn_line_is_skipped_and_the_next_append_chains_past_it(tmp_path):
    path = tmp_path / "coverage.ndjson"
    ledger.append(path, entry("a", "d1", coverage=50.0))
    with path.open("ab") as out:
        out.write(b'{"module": "a", "cov')  # a writer killed mid-line
    ledger.append(path, entry("a", "d2", coverage=60.0))
    problems = []
    assert [e["input_digest"] for e in ledger.read(path, problems)] == ["d1", "d2"]
    assert [p.line for p in problems] == [2]            # reported once, by the reader
    assert ledger.verify_chain(path) == []              # the chain skips it
    ledger.append(path, entry("a", "d3", coverage=70.0))
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([lines[0], *lines[2:]]) + b"\n")  # a person removes the torn line
    problems = []
    assert len(list(ledger.read(path, problems))) == 3 and problems == []
    assert ledger.verify_chain(path) == []


def test_the_reason_of_a_run_that_did_not_pass_is_its_telling_line():
    failed = "pytest exit code 1\n.F\nFAILED tests/test_a.py::test_b - assert 1 == 2\n1 failed, 1 passed in 0.1s"
    crashed = ("pytest exit code 4\nImportError while loading conftest '/r/tests/conftest.py'.\n"
               "tests/conftest.py:1: in <module>\n    import nope\nE   ModuleNotFoundError: No module named 'nope'")
    assert records.reason_of({"status": "tests_failed", "detail": failed}) == "FAILED tests/test_a.py::test_b - assert 1 == 2"
    assert records.reason_of({"status": "crashed", "detail": crashed}) == "ModuleNotFoundError: No module named 'nope'"
    assert records.reason_of({"status": "timeout", "detail": "timed out after 3 s"}) == "timed out after 3 s"
    assert records.reason_of({"status": "ok", "detail": "anything"}) is None
    assert records.reason_of({"status": "crashed"}) is None
    assert len(records.reason_of({"status": "crashed", "detail": "x" * 500})) == 160
