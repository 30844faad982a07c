"""The lines a run prints about measurements: at the end of each, and while a long one runs."""

from __future__ import annotations

import json

from t4tasks.console import progress


def test_a_finished_measurement_is_one_line_with_its_number():
    assert progress.line("coverage", "m", {"status": "ok", "coverage": 81.234, "duration_s": 3.14}) \
        == "coverage:m ok 81.23% (3.1 s)"
    assert progress.line("coverage", "m", {"status": "crashed"}) == "coverage:m crashed no coverage"
    bench = {"status": "ok", "summary": {"p95_ms": 0.01234, "benchmark": "t.py::test_x"}}
    assert progress.line("bench", "m", bench) == "bench:m ok p95 0.01234 ms (t.py::test_x)"
    assert progress.line("bench", "m", {"status": "no_benchmarks"}) == "bench:m no_benchmarks no benchmarks"


def test_a_live_line_says_tests_done_of_total_elapsed_and_eta(tmp_path, capsys):
    state = tmp_path / "progress.json"
    tick = progress.ticker("coverage:m", str(state))
    tick(12.0)
    assert capsys.readouterr().out == "  coverage:m collecting tests · 12s\n"
    state.write_text(json.dumps({"done": 30, "total": 120}))
    tick(45.0)
    assert capsys.readouterr().out == "  coverage:m 30/120 tests · 45s · ETA 2m15s\n"
    state.write_text(json.dumps({"done": 120, "total": 120}))
    tick(180.0)
    assert capsys.readouterr().out == "  coverage:m 120/120 tests · 3m00s\n"
