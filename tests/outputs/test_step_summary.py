"""Step summaries: ``$GITHUB_STEP_SUMMARY`` gets Markdown from the gates and validate (real CLI)."""

from __future__ import annotations



from t4tasks.outputs import step_summary
from tests.checks.ci_repo import repo, shared  # noqa: F401  (fixtures, shared with the other CI tests)
from tests.support import git, run_t4




def test_the_coverage_gate_names_the_failing_module_first(repo, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv(step_summary.ENV, str(summary))
    code, out, err = run_t4(repo, "coverage_gate")
    assert code == 1, out + err
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## T4 coverage gate: ❌ 1 failure(s)\n")   # appended
    failures, table = text.split("| Module |")
    assert "- **alpha**: observed 53.85 target 75.00 delta -21.15 below_target" in failures
    assert "beta" not in failures
    # the per-module table: health, coverage and its delta to target, p95 and SLA
    assert "| alpha | L1 | 38.5 | 53.85 | -21.15 | — | — |" in table  # 26.9 of 70 applicable points
    assert "| beta | L2 | 71.4 | 100.00 | +20.00 | — | — |" in table


def test_a_passing_gate_says_so(repo, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv(step_summary.ENV, str(summary))
    code, out, err = run_t4(repo, "coverage_gate", "--changed-since", "HEAD")   # no module changed
    assert code == 0, out + err
    assert summary.read_text(encoding="utf-8").startswith("## T4 coverage gate: ✅ pass\n")


def test_validate_lists_each_failed_check_with_its_reason(repo, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv(step_summary.ENV, str(summary))
    code, out, err = run_t4(repo, "validate")
    assert code == 1, out + err
    text = summary.read_text(encoding="utf-8")
    assert "## T4 validate: ❌" in text
    assert "- **coverage**: alpha/module.manifest.json: coverage below_target" in text


def test_nothing_is_written_when_the_variable_is_unset(repo, monkeypatch):
    monkeypatch.delenv(step_summary.ENV, raising=False)
    before = git(repo, "status", "--porcelain", "--ignored")
    code, out, err = run_t4(repo, "coverage_gate")
    assert code == 1, out + err
    assert git(repo, "status", "--porcelain", "--ignored") == before
    assert "summary" not in out + err


def test_cells_are_literal():
    assert step_summary.cell("a|b `c`\n<img>") == "a\\|b `c` &lt;img&gt;"
