"""``changes``: which modules changed since a git ref (committed, staged, unstaged, untracked)."""

from __future__ import annotations

import pytest

from t4tasks.catalog.project import Project
from t4tasks.checks import changes
from tests.support import git, git_init, make_repo, manifest, write


def repo(root):
    files = {"conftest.py": "", "README.md": "# r\n", "pyproject.toml": "[project]\nname = 'r'\n",
             "tests/gamma/test_g.py": "def test_g():\n    pass\n"}
    for name in ("alpha", "beta", "gamma"):
        files[f"{name}/__init__.py"] = ""
        files[f"{name}/core.py"] = "X = 1\n"
    files["alpha/tests/test_a.py"] = "def test_a():\n    pass\n"
    files["beta/tests/test_b.py"] = "def test_b():\n    pass\n"
    files["alpha/inner/__init__.py"] = ""
    files["alpha/inner/deep.py"] = "Y = 2\n"
    modules = {n: manifest(n) for n in ("alpha", "beta", "gamma")}
    modules["alpha/inner"] = manifest("inner")
    make_repo(root, modules, files)
    return git_init(root)


def changed(root, ref="HEAD") -> list[str]:
    return sorted(m.name for m in changes.changed_modules(Project.load(root), ref))


@pytest.fixture
def root(no_outer_git):
    return repo(no_outer_git / "repo")


def test_nothing_changed_selects_nothing(root):
    assert changed(root) == []


def test_editing_one_modules_file_selects_that_module_only(root):
    (root / "beta" / "core.py").write_text("X = 2\n")
    assert changed(root) == ["beta"]


def test_a_nested_module_is_not_its_parent(root):
    (root / "alpha" / "inner" / "deep.py").write_text("Y = 3\n")
    assert changed(root) == ["inner"]
    (root / "alpha" / "core.py").write_text("X = 3\n")
    assert changed(root) == ["alpha", "inner"]


def test_tests_in_a_parallel_tree_and_the_manifest_count(root):
    (root / "tests" / "gamma" / "test_g.py").write_text("def test_g():\n    assert True\n")
    assert changed(root) == ["gamma"]
    git(root, "checkout", "--", "tests")
    (root / "beta" / "module.manifest.json").write_text('{"schema_version": "1.0.0", "module": "beta"}\n')
    assert changed(root) == ["beta"]


@pytest.mark.parametrize("shared", ["conftest.py", "pyproject.toml"])
def test_editing_a_shared_root_file_selects_all(root, shared):
    with (root / shared).open("a") as handle:
        handle.write("\n# changed\n")
    assert changed(root) == ["alpha", "beta", "gamma", "inner"]


def test_a_conftest_inside_a_module_is_not_shared(root):
    write(root / "beta" / "conftest.py", "")
    assert changed(root) == ["beta"]


def test_committed_staged_and_unstaged_changes_since_a_ref(root):
    base = git(root, "rev-parse", "HEAD").strip()
    git(root, "checkout", "-q", "-b", "feature")
    (root / "alpha" / "core.py").write_text("X = 5\n")
    git(root, "commit", "-qam", "alpha")
    (root / "beta" / "core.py").write_text("X = 6\n")
    git(root, "add", "beta/core.py")           # staged
    (root / "gamma" / "core.py").write_text("X = 7\n")  # unstaged
    assert changed(root, base) == ["alpha", "beta", "gamma"]
    assert changed(root, "main") == ["alpha", "beta", "gamma"]
    assert changed(root, "HEAD") == ["beta", "gamma"]


def test_changes_on_the_base_branch_since_the_fork_are_not_ours(root):
    git(root, "checkout", "-q", "-b", "feature")
    (root / "alpha" / "core.py").write_text("X = 5\n")
    git(root, "commit", "-qam", "alpha")
    git(root, "checkout", "-q", "main")
    (root / "beta" / "core.py").write_text("X = 9\n")
    git(root, "commit", "-qam", "beta on main")
    git(root, "checkout", "-q", "feature")
    assert changed(root, "main") == ["alpha"]  # REF... : since the merge base


def test_a_rename_within_a_module_selects_it(root):
    git(root, "mv", "beta/core.py", "beta/renamed.py")
    assert changed(root) == ["beta"]


# `git diff --name-only` detects renames by default and then prints only the NEW path; changes.py
# passes --no-renames so the module a file moved out of is selected too.
def test_a_rename_across_modules_selects_both(root):
    git(root, "mv", "alpha/core.py", "beta/from_alpha.py")
    assert changed(root) == ["alpha", "beta"]
    git(root, "commit", "-qm", "move")
    assert changed(root, "HEAD~1") == ["alpha", "beta"]


def test_an_untracked_new_file_in_a_module_selects_it(root):
    write(root / "gamma" / "new.py", "Z = 1\n")
    assert changed(root) == ["gamma"]


def test_ignored_files_and_files_outside_modules_select_nothing(root):
    write(root / ".gitignore", "*.log\n")
    git(root, "add", ".gitignore")
    git(root, "commit", "-qm", "ignore logs")
    write(root / "alpha" / "run.log", "noise\n")
    write(root / "docs" / "notes.md", "notes\n")
    (root / "README.md").write_text("# changed\n")
    assert changed(root) == []


def test_a_bad_ref_is_a_changes_error(root):
    with pytest.raises(changes.ChangesError, match="no-such-ref"):
        changed(root, "no-such-ref")


def test_outside_git_is_a_changes_error(no_outer_git):
    root = make_repo(no_outer_git / "plain", {"a": manifest("a")})
    with pytest.raises(changes.ChangesError):
        changed(root, "HEAD")
