"""The per-line data of a coverage measurement: compact ranges in a content-keyed file."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from t4tasks.measure import lines


@pytest.mark.parametrize("numbers", [[], [1], [1, 2, 3, 7], [5, 3, 4, 10, 12, 11, 20]])
def test_ranges_round_trip(numbers):
    text = lines.ranges(numbers)
    assert lines.numbers(text) == set(numbers)
    assert lines.ranges([1, 2, 3, 7]) == "1-3,7"


def test_blob_id_is_gits(tmp_path):
    path = tmp_path / "f.py"
    path.write_bytes(b"x = 1\n")
    expected = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout.strip()
    assert lines.blob_id(path.read_bytes()) == expected


def test_keep_writes_one_file_per_content_and_puts_its_digest_in_the_result(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/a.py").write_text("a = 1\nb = 2\n", encoding="utf-8")
    report = {"files": {"pkg/a.py": {"executed_lines": [1], "missing_lines": [2]},
                        "/elsewhere/b.py": {"executed_lines": [1], "missing_lines": []}}}
    result = {"status": "ok", lines.RESULT_KEY: lines.from_report(report, tmp_path)}
    kept = lines.keep(tmp_path, "ledger", result)
    again = lines.keep(tmp_path, "ledger", dict(result))
    assert lines.RESULT_KEY not in kept and kept[lines.FIELD] == again[lines.FIELD]
    files = list((tmp_path / "ledger/lines").iterdir())
    assert [f.name for f in files] == [f"{kept[lines.FIELD]}.json"]
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == kept[lines.FIELD]
    loaded = lines.load(tmp_path, "ledger", kept[lines.FIELD])
    assert loaded == {"pkg/a.py": {"blob": lines.blob_id(b"a = 1\nb = 2\n"), "statements": {1, 2}, "missing": {2}}}


def test_a_result_without_per_line_data_is_kept_as_is(tmp_path):
    assert lines.keep(tmp_path, "ledger", {"status": "timeout"}) == {"status": "timeout"}
    assert not (tmp_path / "ledger").exists()


def test_an_edited_or_missing_file_is_an_error_naming_it(tmp_path):
    kept = lines.keep(tmp_path, "ledger", {lines.RESULT_KEY: {"schema": lines.SCHEMA_ID, "files": {}}})
    digest = kept[lines.FIELD]
    path = tmp_path / "ledger/lines" / f"{digest}.json"
    path.write_bytes(path.read_bytes().replace(b"{}", b'{"x":1}'))
    with pytest.raises(lines.LinesError, match=f"ledger/lines/{digest}.json: content does not match"):
        lines.load(tmp_path, "ledger", digest)
    path.unlink()
    with pytest.raises(lines.LinesError, match="missing"):
        lines.load(tmp_path, "ledger", digest)
    with pytest.raises(lines.LinesError, match="bad lines_digest"):
        lines.load(tmp_path, "ledger", "../../etc/passwd")
    with pytest.raises(lines.LinesError, match="malformed"):
        lines.parse(b'{"schema": "t4.lines/1", "files": {"a.py": {"blob": "x", "statements": "3-1", "missing": ""}}}', "f")
