"""validate over ledgers with a wrong-typed value and a torn line: problems with file:line, no crash."""

from __future__ import annotations

import orjson

from t4tasks.ledgers import ledger

from tests.support import git_init, make_repo, manifest, run_t4


def test_a_wrong_type_and_a_torn_line_are_problems_of_validate_never_a_crash(tmp_path):
    root = make_repo(tmp_path / "repo", {"a": manifest("a")}, files={"a/__init__.py": ""})
    path = root / "manifests/.ledger/coverage.ndjson"
    ledger.append(path, ledger.new_record("coverage", "a", {"status": "ok", "coverage": 50.0}, "d1"))
    with path.open("ab") as out:
        out.write(orjson.dumps({**ledger.new_record("coverage", "a", {}, "d2"), "coverage": "x"}) + b"\n")
        out.write(b'{"module": "a", "torn')
    git_init(root)
    code, out, err = run_t4(root, "validate")
    text = out + err
    assert "Traceback" not in text and code == 1, text
    assert "coverage.ndjson:2" in text and "wrong type: coverage: 'x' is not a number or null" in text, text
    assert "coverage.ndjson:3" in text, text
