"""``t4 pr_report --base REF``: a real repository with two commits, the real CLI."""

from __future__ import annotations

import pytest

from tests.checks.ci_repo import pr_repo
from tests.support import git, run_t4


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return pr_repo(tmp_path_factory.mktemp("pr") / "repo")


def report(root, *args):
    code, out, err = run_t4(root, "pr_report", *args)
    return code, out.removeprefix(".  pr_report\n"), err


def test_lists_the_changed_module_with_its_delta_and_counts_the_unchanged_one(repo):
    code, out, err = report(repo, "--base", "base")
    assert code == 0, out + err
    assert out.startswith("<!-- t4:pr-report -->\n")
    base = git(repo, "rev-parse", "base").strip()
    assert f"## T4: modules changed since base ({base[:12]})" in out
    # alpha: 100 % at base (read from base's own ledger in git), 53.85 % now
    assert "| alpha | 53.85 | -46.15 | 75.00 | — | — | ok | below_target |" in out
    assert "- **alpha**: regression, newly below target" in out
    assert "beta" not in out
    assert "1 changed, 1 unchanged module(s) not listed." in out


def test_is_deterministic(repo):
    first, second = report(repo, "--base", "base"), report(repo, "--base", "base")
    assert first == second


def test_a_module_without_a_base_record_is_new(repo, tmp_path):
    # against the first commit (no ledger at all): alpha's code changed since and it has no base
    # value; beta's inputs are the same (only T4's own records were added), so it is counted
    code, out, err = report(repo, "--base", "base~1")
    assert code == 0, out + err
    assert "| alpha | 53.85 | new |" in out and "| beta |" not in out
    assert "1 changed, 1 unchanged" in out


def test_writes_the_comment_to_a_file(repo, tmp_path):
    target = tmp_path / "comment.md"
    code, out, err = report(repo, "--base", "base", "--output", str(target))
    assert code == 0, out + err
    assert target.read_text(encoding="utf-8") == out


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=/tmp/x", "base:alpha"])
def test_a_bad_ref_is_one_line_and_exit_2(repo, ref):
    code, out, err = run_t4(repo, "pr_report", f"--base={ref}")
    assert code == 2
    assert f"--base {ref}: not a commit" in out + err
    assert "Traceback" not in out + err


def test_a_ref_with_markdown_characters_is_shown_literally(repo):
    git(repo, "tag", "v1_<b>")
    code, out, err = report(repo, "--base", "v1_<b>")
    assert code == 0, out + err
    assert "changed since v1_&lt;b&gt; (" in out


def test_a_run_that_fails_now_is_a_new_failure(repo, tmp_path):
    import shutil
    from tests.support import t4_run, write
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy, symlinks=True)
    write(copy / "beta/tests/test_core.py", "from beta.core import double\n\n\ndef test_double():\n    assert double(2) == 5\n")
    code, executed, _, out = t4_run(copy, "coverage")
    assert executed == ["coverage:beta"], out
    code, out, err = report(copy, "--base", "base")
    assert code == 0, out + err
    assert "- **beta**: new failure" in out
    assert "| beta | — | — | 80.00 | — | — | tests_failed | tests_failed |" in out


def test_p95_deltas_come_from_the_bench_ledgers_at_base_and_now(repo, tmp_path):
    import shutil
    from t4tasks.ledgers import ledger
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy, symlinks=True)
    path = copy / "manifests/.ledger/bench.ndjson"

    def bench(p95: float, digest: str) -> None:
        ledger.append(path, ledger.new_record("bench", "alpha", {"status": "ok", "summary": {"p95_ms": p95}}, digest))

    git(copy, "checkout", "-q", "-b", "base-with-bench", "base")
    bench(2.0, "d1")
    git(copy, "add", "-A")
    git(copy, "commit", "-q", "-m", "bench at base")
    git(copy, "checkout", "-q", "main")
    git(copy, "merge", "-q", "--no-edit", "base-with-bench")
    bench(5.0, "d2")                    # now: 2.5x slower, beyond the 1.0 (doubling) threshold
    code, out, err = report(copy, "--base", "base-with-bench")
    assert code == 0, out + err
    assert "| alpha | 53.85 | -46.15 | 75.00 | 5.00 | +3.00 ms |" in out
