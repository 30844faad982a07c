"""``t4 tag_prod`` on real git repositories: it tags only a clean tree on which every check passes.

One small repository is measured by a real ``t4`` run and committed once; each test works on its
own copy (git history and ``.t4/`` state included).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import GENERATED, git, git_init, make_repo, manifest, run_t4

DEFAULT = "v0.01-prod"
SUMMARY = "T4 validation: 7 passed, 0 failed, 1 skipped of 8 checks"


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """A measured, valid repository with everything T4 wrote committed."""
    root = make_repo(tmp_path_factory.mktemp("prod") / "repo", {
        "calc": manifest("calc", matrix={"lane": "L2"}, description="Calculates."),
    }, files={
        "calc/__init__.py": "def add(a, b):\n    return a + b\n",
        "calc/tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n",
        "calc/README.md": "# Calc\n\nAdds numbers.\n",
    })
    git_init(root)
    code, out, err = run_t4(root, timeout=300)
    assert code == 0, out + err
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "measured and validated")
    assert git(root, "status", "--porcelain") == ""
    return root


@pytest.fixture
def repo(committed, tmp_path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(committed, copy, symlinks=True)
    return copy


def tag_prod(root: Path, *args: str) -> tuple[int, str]:
    code, out, err = run_t4(root, "tag_prod", *args)
    assert "Traceback" not in out + err
    return code, out + err


def tags(root: Path) -> list[str]:
    return git(root, "tag", "--list").split()


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def test_refuses_on_a_dirty_tree(repo):
    (repo / "notes.txt").write_text("work in progress\n")   # untracked, not ignored
    code, output = tag_prod(repo)
    assert code != 0
    assert "tag_prod refused: the work tree is not clean" in output
    assert "?? notes.txt" in output
    assert tags(repo) == []
    # the same tree without the stray file is tagged: the refusal was about the untracked file
    (repo / "notes.txt").unlink()
    code, output = tag_prod(repo)
    assert code == 0, output
    assert tags(repo) == [DEFAULT]


def test_refuses_when_validate_fails_naming_the_check(repo):
    trend = repo / "trends" / "coverage_trend.csv"
    trend.write_text(trend.read_text().replace(",calc,100.00,", ",calc,42.00,"))
    git(repo, "commit", "-q", "-am", "hand-edited trend")
    assert git(repo, "status", "--porcelain") == ""
    code, output = tag_prod(repo)
    assert code != 0
    assert "tag_prod refused: validate fails (trends)" in output
    assert tags(repo) == []
    assert git(repo, "status", "--porcelain") == ""   # the in-memory checks wrote no report


def test_tags_a_clean_valid_tree_with_the_summary_then_has_nothing_to_do(repo):
    commit = head(repo)
    code, output = tag_prod(repo)
    assert code == 0, output
    assert f"tagged {commit[:12]} as {DEFAULT}" in output
    assert tags(repo) == [DEFAULT]
    assert git(repo, "cat-file", "-t", DEFAULT).strip() == "tag"          # annotated, not lightweight
    assert git(repo, "rev-parse", f"{DEFAULT}^{{commit}}").strip() == commit
    message = git(repo, "tag", "--list", "--format=%(contents)", DEFAULT)
    assert message.splitlines()[0] == SUMMARY
    for line in ("- manifests: pass", "- registry: pass", "- meta: pass", "- docs: pass", "- ledger: pass",
                 "- coverage: pass", "- bench: skipped (no module has benchmarks)", "- trends: pass"):
        assert line in message.splitlines()
    assert git(repo, "status", "--porcelain") == ""
    tag_object = git(repo, "rev-parse", DEFAULT).strip()
    # idempotent: the same commit is already tagged
    code, output = tag_prod(repo)
    assert code == 0, output
    assert f"tag {DEFAULT} already marks HEAD ({commit[:12]}): nothing to do" in output
    assert git(repo, "rev-parse", DEFAULT).strip() == tag_object


def test_tag_on_another_commit_is_a_clear_error(repo):
    assert tag_prod(repo)[0] == 0
    tagged = head(repo)
    (repo / "calc" / "README.md").write_text("# Calc\n\nAdds two numbers.\n")
    code, out, err = run_t4(repo, "validate")
    assert code == 0, out + err
    git(repo, "commit", "-q", "-am", "reworded")
    assert git(repo, "status", "--porcelain") == ""
    code, output = tag_prod(repo)
    assert code != 0
    assert f"tag {DEFAULT} already exists on another commit ({tagged[:12]})" in output
    assert "--name" in output
    assert git(repo, "rev-parse", f"{DEFAULT}^{{commit}}").strip() == tagged   # left where it was
    # the suggested way out works
    code, output = tag_prod(repo, "--name", "v0.02-prod")
    assert code == 0, output
    assert git(repo, "rev-parse", "v0.02-prod^{commit}").strip() == head(repo)


def test_custom_name(repo):
    code, output = tag_prod(repo, "--name", "release-2024.1")
    assert code == 0, output
    assert "as release-2024.1" in output
    assert tags(repo) == ["release-2024.1"]
    assert git(repo, "cat-file", "-t", "release-2024.1").strip() == "tag"
    assert git(repo, "tag", "--list", "--format=%(contents)", "release-2024.1").startswith(SUMMARY)


def test_refuses_when_a_generated_file_was_deleted(repo):
    """The checks judge the committed tree itself: a committed deletion of META_REGISTRY.json is
    a failing ``meta`` check (nothing regenerates it behind the user's back)."""
    git(repo, "rm", "-q", f"{GENERATED}/META_REGISTRY.json")
    git(repo, "commit", "-q", "-m", "drop the meta registry")
    code, output = tag_prod(repo)
    assert code != 0
    assert "validate fails (meta)" in output
    assert tags(repo) == []
    assert not (repo / GENERATED / "META_REGISTRY.json").exists()
