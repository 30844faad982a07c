"""Test folders that no module runs: tests a maintainer wrote that T4 would never measure."""

from __future__ import annotations

import posixpath

from t4tasks.catalog.project import Project

TEST_FOLDER_NAMES = frozenset({"tests", "test"})


def _is_test_file(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def unmapped_test_folders(project: Project) -> list[str]:
    """Topmost folders in a ``tests``/``test`` folder holding test files that no module claims, sorted."""
    covered = {p for m in project.modules for p in m.test_paths} | set(project.output_paths)
    holding = sorted({folder for folder, files in project.listing.by_folder.items()
                      if TEST_FOLDER_NAMES & set(folder.split("/"))
                      and any(_is_test_file(posixpath.basename(f)) for f in files)})
    found: list[str] = []
    for folder in holding:
        # claimed when the folder or one of its ancestors is a test path or an output folder: a
        # lookup per ancestor, not a scan of every module's paths per folder
        if any(ancestor in covered for ancestor in _self_and_ancestors(folder)):
            continue
        if found and folder.startswith(found[-1] + "/"):
            continue  # its parent is reported already
        found.append(folder)
    return found


def _self_and_ancestors(folder: str) -> list[str]:
    parts = folder.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def warnings(project: Project) -> list[str]:
    """One line per unmapped test folder, naming it and what to do."""
    return [f"{folder}: test folder that maps to no module (add it to a manifest's layout.paths.tests)"
            for folder in unmapped_test_folders(project)]
