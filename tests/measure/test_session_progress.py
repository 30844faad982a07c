"""Live progress of a long measurement: tests done of total, elapsed, an ETA."""

from __future__ import annotations

import re

import pytest

from tests.support import git_init, make_repo, manifest, run_t4


@pytest.mark.slow
def test_a_long_coverage_run_shows_tests_done_of_total_and_an_eta(tmp_path, monkeypatch):
    # 8 tests of 1.5 s each: the measurement takes ~12 s, so progress lines appear every 5 s
    tests = "".join(f"def test_{i}():\n    time.sleep(1.5)\n\n\n" for i in range(8))
    root = make_repo(tmp_path / "r", {"slow": manifest("slow")}, files={
        "slow/__init__.py": "X = 1\n",
        "slow/tests/test_slow.py": "import time\n\n\n" + tests,
    })
    git_init(root)
    code, out, err = run_t4(root, "coverage", timeout=300)
    assert code == 0, err
    lines = re.findall(r"coverage:slow (\d+)/(\d+) tests · (\d+)s(?: · ETA (\d+)s)?", out)
    assert lines, out
    for done, total, elapsed, eta in lines:
        assert total == "8" and int(done) <= 8
        if eta:  # the rest of the run at the pace so far: right within 2x
            left = (8 - int(done)) * 1.5
            assert left / 2 <= int(eta) <= left * 2 + 2, (done, eta)
