"""Finding manifests: git decides in a work tree, a pruned walk elsewhere, excludes apply."""

from __future__ import annotations

import pytest

from t4tasks.catalog import discovery

from tests.support import git, git_init, make_repo, manifest, run_t4, read_registry

GLOBS = ("**/module.manifest.json",)


def found(root, exclude=()):
    listing = discovery.list_files(root)
    return listing, discovery.find_manifests(listing, GLOBS, exclude)


def test_git_mode_counts_untracked_manifests_but_never_ignored_ones(no_outer_git):
    root = make_repo(no_outer_git / "repo", {"a": manifest("a"), "b/c": manifest("c")},
                     {".gitignore": "vendor/\n"})
    git_init(root)
    make_repo(root, {"new": manifest("new"), "vendor/x": manifest("x")})   # untracked; ignored
    listing, manifests = found(root)
    assert listing.is_git
    assert manifests == ["a/module.manifest.json", "b/c/module.manifest.json", "new/module.manifest.json"]
    assert discovery.untracked_manifests(listing, manifests) == ["new/module.manifest.json"]
    assert "vendor/x/module.manifest.json" not in listing.all_files


def test_git_mode_drops_deleted_files_and_sees_staged_ones(no_outer_git):
    root = make_repo(no_outer_git / "repo", {"a": manifest("a"), "b": manifest("b")})
    git_init(root)
    (root / "a" / "module.manifest.json").unlink()
    make_repo(root, {"n": manifest("n")})
    git(root, "add", "n/module.manifest.json")
    _, manifests = found(root)
    assert manifests == ["b/module.manifest.json", "n/module.manifest.json"]


def test_git_mode_through_cli_registers_untracked_manifests_with_one_warning(tmp_path):
    root = make_repo(tmp_path / "repo", {"a": manifest("a")}, {".gitignore": "ignored/\n"})
    git_init(root)
    make_repo(root, {"fresh": manifest("fresh"), "other": manifest("other"), "ignored": manifest("ignored")})
    code, _, err = run_t4(root, "registry")
    assert code == 0, err
    assert [m["name"] for m in read_registry(root)["modules"]] == ["a", "fresh", "other"]
    warnings = [line for line in err.splitlines() if "not tracked by git" in line]
    assert warnings == ["t4: warning: 2 manifest(s) not tracked by git, counted anyway (git add them to commit): "
                        "fresh/module.manifest.json, other/module.manifest.json"]


@pytest.mark.parametrize("skipped", [".venv", "node_modules", "__pycache__", "build", "dist",
                                     ".git", "venv", "pkg.egg-info", ".t4"])
def test_walk_mode_skips_tool_folders(no_outer_git, skipped):
    root = make_repo(no_outer_git / "repo", {"a": manifest("a"), f"{skipped}/x": manifest("x"),
                                             f"a/{skipped}": manifest("y")})
    listing, manifests = found(root)
    assert not listing.is_git
    assert manifests == ["a/module.manifest.json"]
    assert not any(p.startswith(f"{skipped}/") or f"/{skipped}/" in p for p in listing.all_files)


def test_walk_mode_keeps_archive_folders(no_outer_git):
    # "archive" is a real module in the lukhas fixture: it must not be pruned
    root = make_repo(no_outer_git / "repo", {"archive": manifest("archive")})
    assert found(root)[1] == ["archive/module.manifest.json"]


def test_walk_listing_is_sorted_posix(no_outer_git):
    root = make_repo(no_outer_git / "repo", {"z/y": manifest("y"), "a": manifest("a")},
                     files={"a/b/c.py": "", "m.txt": ""})
    listing, manifests = found(root)
    assert list(listing.tracked) == sorted(listing.tracked)
    assert "a/b/c.py" in listing.tracked and all("\\" not in p for p in listing.tracked)
    assert manifests == ["a/module.manifest.json", "z/y/module.manifest.json"]


@pytest.mark.parametrize("use_git", [False, True])
def test_excludes(no_outer_git, use_git):
    root = make_repo(no_outer_git / "repo", {"a": manifest("a"), "legacy/old": manifest("old"),
                                             "b/fixtures/m": manifest("m")})
    if use_git:
        git_init(root)
    _, manifests = found(root, exclude=("legacy/", "**/fixtures/**"))
    assert manifests == ["a/module.manifest.json"]


def test_excludes_from_pyproject(tmp_path):
    root = make_repo(tmp_path / "repo", {"a": manifest("a"), "legacy/old": manifest("old")},
                     pyproject='[tool.t4]\nexclude = ["legacy/"]\n')
    code, _, err = run_t4(root, "registry")
    assert code == 0, err
    assert [m["name"] for m in read_registry(root)["modules"]] == ["a"]


def test_custom_manifest_globs(no_outer_git):
    root = make_repo(no_outer_git / "repo", {"a": manifest("a"), "b": manifest("b")})
    listing = discovery.list_files(root)
    assert discovery.find_manifests(listing, ("b/module.manifest.json",), ()) == ["b/module.manifest.json"]
