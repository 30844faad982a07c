"""Onboarding: ``init`` on a repository built from real packages, ``new_module`` end to end."""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from t4tasks.catalog import registry
from t4tasks.catalog.manifest import placeholder_problems
from t4tasks.catalog.project import Project
from t4tasks.scaffolding import onboard

from tests.support import make_repo, manifest, write
from tests.scaffolding.test_scaffold import tree_hash

REAL_PACKAGES = ("pathspec", "filelock", "jinja2")  # pure Python, installed as T4 dependencies


def real_package_repo(root: Path) -> Path:
    """A monorepo layout made of real packages copied from site-packages, plus folders init must skip."""
    for name in REAL_PACKAGES:
        source = Path(importlib.util.find_spec(name).origin).parent
        shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for skipped in ("tests", "docs", ".venv/lib", "build", "my-pkg", "class", "_private"):
        write(root / skipped / "__init__.py", '"""Not a module."""\n')
    write(root / "scripts_only/run.py", "print('no __init__, not a package')\n")
    return root


def docstring_paragraph(package: str) -> str:
    init = Path(importlib.util.find_spec(package).origin)
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def test_init_on_real_packages_dry_run_then_apply_then_nothing(no_outer_git):
    root = real_package_repo(no_outer_git / "repo")
    before = tree_hash(root)
    planned = onboard.init(root)
    assert tree_hash(root) == before
    assert [(p.relpath, p.action) for p in planned] == [
        ("filelock/module.manifest.json", "create"),
        ("jinja2/module.manifest.json", "create"),
        ("pathspec/module.manifest.json", "create"),
    ]

    assert onboard.init(root, apply=True) == planned
    project = Project.load(root)
    assert project.problems == [] and project.schema_problems() == []
    assert [m.name for m in project.modules] == ["filelock", "jinja2", "pathspec"]
    for module in project.modules:
        assert (module.lane, module.code_path) == ("L2", module.name)
        assert module.description == docstring_paragraph(module.name)
        assert placeholder_problems(module.manifest_path, module.manifest) == []
    assert project.by_name["jinja2"].description.startswith("Jinja is a template engine")
    assert [e["name"] for e in registry.build(project)["modules"]] == ["filelock", "jinja2", "pathspec"]

    applied = tree_hash(root)
    again = onboard.init(root, apply=True)
    assert {p.action for p in again} == {"skip-exists"}
    assert tree_hash(root) == applied


def test_init_keeps_existing_manifests_honours_exclude_and_finds_src_packages(no_outer_git):
    root = make_repo(no_outer_git / "repo", {"alpha": manifest("alpha", owner="team-a")},
                     {"alpha/__init__.py": "", "src/beta/__init__.py": '"""Beta does things."""\n',
                      "vendored/__init__.py": ""},
                     pyproject='[tool.t4]\nexclude = ["vendored/"]\n')
    original = (root / "alpha/module.manifest.json").read_bytes()
    planned = onboard.init(root, apply=True)
    assert [(p.relpath, p.action) for p in planned] == [
        ("alpha/module.manifest.json", "skip-exists"), ("src/beta/module.manifest.json", "create")]
    assert (root / "alpha/module.manifest.json").read_bytes() == original
    data = orjson.loads((root / "src/beta/module.manifest.json").read_bytes())
    assert (data["module"], data["description"], data["matrix"]) == ("beta", "Beta does things.", {"lane": "L2"})


def test_a_repositorys_only_package_owns_the_whole_tests_folder(no_outer_git):
    # tests/test_pkg.py names the package, but a test file added later belongs to it too
    root = make_repo(no_outer_git / "repo", {}, {"src/pkg/__init__.py": '"""Pkg."""\n',
                                                 "tests/test_pkg.py": "def test_pkg():\n    assert True\n"})
    onboard.init(root, apply=True)
    data = orjson.loads((root / "src/pkg/module.manifest.json").read_bytes())
    assert data["layout"]["paths"]["tests"] == "../../tests"


def test_new_module_creates_a_registered_module_whose_tests_pass(no_outer_git):
    root = no_outer_git / "repo"
    root.mkdir()
    written = onboard.new_module(root, "payments", lane="L3")
    assert written[:2] == ["payments/__init__.py", "payments/module.manifest.json"]
    assert "payments/README.md" in written and "payments/tests/test_payments_smoke.py" in written
    assert all((root / p).is_file() for p in written)

    project = Project.load(root)
    assert project.problems == [] and project.schema_problems() == []
    module = project.by_name["payments"]
    assert (module.lane, module.owner, module.test_paths) == ("L3", "TODO-owner", ("payments/tests",))
    assert [str(p) for p in placeholder_problems(module.manifest_path, module.manifest)] == [
        "payments/module.manifest.json: /ownership/team: placeholder 'TODO-owner': replace it with the real owner",
        "payments/module.manifest.json: /description: placeholder 'TODO: say what payments does.': "
        "replace it with the real description",
    ]
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "payments/tests"],
                          cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GIT_CEILING_DIRECTORIES": str(no_outer_git)})
    assert done.returncode == 0 and "3 passed" in done.stdout, done.stdout + done.stderr

    with pytest.raises(FileExistsError):
        onboard.new_module(root, "Payments")


@pytest.mark.parametrize("name, reason", [
    ("..", "contains '..'"),
    ("../escape", "contains '..'"),
    ("/tmp/abs", "is an absolute path"),
    ("a/b", "contains a path separator"),
    ("1abc", "not a valid Python identifier"),
    ("class", "not a valid Python identifier"),
    ("", "empty"),
])
def test_new_module_refuses_unsafe_or_invalid_names(no_outer_git, name, reason):
    root = no_outer_git / "repo"
    root.mkdir()
    with pytest.raises(ValueError, match=reason):
        onboard.new_module(root, name)
    assert list(root.iterdir()) == []


def test_new_module_refuses_a_name_symlinked_outside_the_root(no_outer_git):
    outside = no_outer_git / "outside"
    outside.mkdir()
    root = no_outer_git / "repo"
    root.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="leaves the repository root"):
        onboard.new_module(root, "escape")
    assert list(outside.iterdir()) == []


def test_new_module_refuses_an_unknown_lane(no_outer_git):
    with pytest.raises(ValueError, match="lane 'L9'"):
        onboard.new_module(no_outer_git, "payments", lane="L9")
    assert not (no_outer_git / "payments").exists()


@pytest.mark.parametrize("docstring, expected", [
    ("Name\n====\n\nDoes the thing.\n", "Does the thing."),
    ("=====\nTitle\n=====\n\nOverlined and underlined.\n", "Overlined and underlined."),
    ("Plain first paragraph\nover two lines.\n\nMore.", "Plain first paragraph over two lines."),
])
def test_package_description_skips_an_rst_heading(tmp_path, docstring, expected):
    init = write(tmp_path / "pkg" / "__init__.py", f'"""{docstring}"""\n')
    assert onboard.package_description(init) == expected
