"""``t4 patch_coverage --base REF``: changed executable lines per module against the per-line data
of its latest measurement, in a real repository with two commits."""

from __future__ import annotations



from t4tasks.checks import base_ref
from tests.checks.ci_repo import ALPHA_NEW, ALPHA_TEST, repo, shared  # noqa: F401  (fixtures)
from tests.support import git, run_t4, t4_run, write




def patch(root, *args):
    code, out, err = run_t4(root, "patch_coverage", "--base", "base", *args)
    return code, out + err


def test_new_uncovered_lines_fail_under_80(shared):
    code, out = patch(shared, "--fail-under", "80")
    assert code == 1, out
    # scale(): its def line runs at import, its 4 body lines never do
    assert "alpha" in out and "1 of     5 changed lines covered   20.00 %  fail under 80  below" in out
    assert "beta" not in out
    assert "patch coverage: 0 of 1 changed modules pass" in out


def test_without_a_threshold_it_reports_and_passes(shared):
    code, out = patch(shared)
    assert code == 0, out
    assert "1 of     5 changed lines covered   20.00 %  pass" in out


def test_a_threshold_the_patch_meets_passes(shared):
    code, out = patch(shared, "--fail-under", "20")
    assert code == 0, out


def test_lane_targets_judge_each_module_by_its_own_target(shared):
    code, out = patch(shared, "--lane-targets")
    assert code == 1 and "fail under 75  below" in out, out   # alpha is in lane L1: 75 %


def test_covering_the_new_lines_makes_it_pass(repo):
    write(repo / "alpha/tests/test_core.py",
          ALPHA_TEST + "\n\ndef test_scale():\n    from alpha.core import scale\n    assert scale([1, 2], 3) == [3, 6]\n")
    code, executed, _, out = t4_run(repo, "coverage")
    assert code == 0 and executed == ["coverage:alpha"], out
    code, out = patch(repo, "--fail-under", "80")
    assert code == 0, out
    assert "5 of     5 changed lines covered  100.00 %" in out


def test_a_change_not_measured_yet_is_stale_and_fails_a_threshold(repo):
    write(repo / "alpha/core.py", ALPHA_NEW + "\n\nVALUE = 1\n")
    code, out = patch(repo, "--fail-under", "80")
    assert code == 1, out
    assert "stale (alpha/core.py changed since the last measurement)" in out


def test_a_module_never_measured_is_unmeasured(repo):
    git(repo, "checkout", "-q", "-b", "fresh", "base")
    write(repo / "gamma/module.manifest.json", '{"schema_version": "1.0.0", "module": "gamma", "matrix": {"lane": "L1"}}')
    write(repo / "gamma/__init__.py", "X = 1\n")
    write(repo / "gamma/tests/test_x.py", "def test_x():\n    assert True\n")
    git(repo, "add", "gamma")   # T4 discovers tracked manifests
    code, out = patch(repo, "--fail-under", "80")
    assert code == 1 and "gamma" in out and "unmeasured" in out, out


def test_a_bad_ref_is_one_line_and_exit_2(shared):
    code, out, err = run_t4(shared, "patch_coverage", "--base", "nope")
    assert code == 2 and "--base nope: not a commit" in out + err and "Traceback" not in out + err


def test_added_lines_cover_commits_edits_and_untracked_files(repo):
    commit = base_ref.verify(repo, "base")
    write(repo / "beta/core.py", "def double(x):\n    return x + x\n")   # unstaged edit of line 2
    write(repo / "notes.py", "a = 1\nb = 2\n")                           # untracked
    changed = base_ref.added_lines(repo, commit)
    assert changed["alpha/core.py"] == set(range(5, 12))
    assert changed["beta/core.py"] == {2}
    assert changed["notes.py"] == {1, 2}


def test_the_step_summary_names_the_module_and_its_counts(shared, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out = patch(shared, "--fail-under", "80")
    assert code == 1, out
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## T4 patch coverage: ❌ 1 failure(s)\n")
    assert "- **alpha**: 1 of 5 changed lines covered (20.00 %), under 80 %" in text
    assert "| beta |" not in text   # the table lists the changed modules only
