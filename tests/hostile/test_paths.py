"""Symlinks and output folders: T4 never reads a manifest, writes or deletes outside the root,
and never replaces a symlink with a file."""

from __future__ import annotations

import json
import os

import pytest

from t4tasks.catalog.project import Project

from tests.hostile.corpus import good_repo, snapshot
from tests.support import git_init, manifest, run_t4


@pytest.mark.parametrize("link, command", [
    ("docs", ["registry"]),
    ("manifests", ["coverage"]),
    ("trends", ["validate"]),
    (".github", ["ci_init", "--apply"]),
])
def test_an_output_folder_linked_outside_is_refused_in_one_line(tmp_path, link, command):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = good_repo(tmp_path / "repo")
    os.symlink(elsewhere, root / link)
    git_init(root)
    before = snapshot(elsewhere)
    code, out, err = run_t4(root, *command)
    assert code == 2, out + err
    assert f"output folder {link}" in err and "outside" not in out and len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err
    assert snapshot(elsewhere) == before


def test_a_manifest_linked_outside_the_root_is_a_problem(no_outer_git):
    secret = no_outer_git / "secret.json"
    secret.write_text(json.dumps(manifest("stolen")))
    root = good_repo(no_outer_git / "repo")
    (root / "evil").mkdir()
    os.symlink(secret, root / "evil" / "module.manifest.json")
    project = Project.load(root)
    assert [m.name for m in project.modules] == ["good"]
    [problem] = [p for p in project.problems if p.path == "evil/module.manifest.json"]
    assert "outside the repository" in problem.message


def test_recording_through_a_manifest_link_keeps_the_link(tmp_path):
    root = good_repo(tmp_path / "repo")
    (root / "shared").mkdir()
    os.replace(root / "good" / "module.manifest.json", root / "shared" / "good.json")
    os.symlink("../shared/good.json", root / "good" / "module.manifest.json")
    git_init(root)
    code, out, err = run_t4(root, "coverage")
    assert code == 0, out + err
    assert os.readlink(root / "good" / "module.manifest.json") == "../shared/good.json"
    assert "coverage_observed" in (root / "shared" / "good.json").read_text()


def test_atomic_writes_refuse_to_replace_a_link(tmp_path):
    from t4tasks.speed import atomic

    target = tmp_path / "target.txt"
    target.write_text("kept")
    os.symlink(target, tmp_path / "link.txt")
    with pytest.raises(OSError, match="never replaces a link"):
        atomic.write_text(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink() and target.read_text() == "kept"


def test_an_observed_block_keeps_the_manifests_indent_and_newlines(tmp_path):
    text = json.dumps(manifest("good"), indent=4).replace("\n", "\r\n") + "\r\n"
    root = good_repo(tmp_path / "repo", {"good": text})
    git_init(root)
    code, out, err = run_t4(root, "coverage")
    assert code == 0, out + err
    written = (root / "good" / "module.manifest.json").read_bytes()
    assert b"coverage_observed" in written
    assert written.count(b"\r\n") == written.count(b"\n") and b'\r\n    "module": "good"' in written
    assert written.endswith(b"}\r\n")
