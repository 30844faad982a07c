"""Scaffolding docs and tests in real temporary repositories, with the generated tests run by pytest.

Each test checks an outcome on disk (bytes, hashes, ledger lines, a pytest exit code), so a
scaffolder that writes nothing, overwrites, or generates tests that cannot fail is caught.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from t4tasks.catalog.project import Project
from t4tasks.checks import docs_check
from t4tasks.ledgers import ledger
from t4tasks.scaffolding import marker, scaffold

from tests.support import make_repo, manifest, write

TODAY = date(2025, 3, 14)
PAYMENTS = '''\
"""Payments: charge cards and issue refunds."""

RATE = 3


def charge(amount: int, currency: str = "EUR") -> int:
    """Charge a card."""
    return amount


class Refund:
    """A refund of a charge."""


def _helper():
    return None
'''
DOC_FILES = ["payments/AGENTS.md", "payments/CHANGELOG.md", "payments/CONTEXT.md", "payments/README.md",
             "payments/docs/API.md", "payments/docs/ARCHITECTURE.md", "payments/docs/CONTRIBUTING.md"]
TEST_FILES = ["payments/tests/conftest.py", "payments/tests/test_payments_integration.py",
              "payments/tests/test_payments_smoke.py", "payments/tests/test_payments_unit.py"]


def payments_repo(root: Path, **files: str) -> Path:
    return make_repo(root, {"payments": manifest("payments", description="Charges and refunds.",
                                                 ownership={"team": "pay-team"})},
                     {"payments/__init__.py": PAYMENTS, **files})


def tree_hash(root: Path) -> str:
    """Every folder and file (path, bytes, symlink target) under root: any write changes it."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        digest.update(os.path.relpath(dirpath, root).encode())
        for name in sorted(filenames):
            path = Path(dirpath, name)
            digest.update(name.encode())
            digest.update(os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
    return digest.hexdigest()


def plan_all(root: Path, update: bool = False, today: date = TODAY):
    project = Project.load(root)
    module = project.by_name["payments"]
    return (project, module, scaffold.plan_docs(project, module, today, update),
            scaffold.plan_tests(project, module, today, update))


def scaffold_payments(root: Path) -> list[str]:
    project, module, docs, tests = plan_all(root)
    return scaffold.apply(project, module, docs, "scaffold") + scaffold.apply(project, module, tests, "test_scaffold")


def run_pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(cwd.resolve().parent)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-W", "error::pytest.PytestUnknownMarkWarning", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow
def test_generated_tests_pass_and_docs_check_clean(no_outer_git):
    root = payments_repo(no_outer_git / "repo")
    written = scaffold_payments(root)
    assert written == DOC_FILES + TEST_FILES

    # run from the tests folder: the import must come from the generated conftest, not the cwd
    done = run_pytest(root / "payments" / "tests", ".")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout  # import + 3 names, 2 kinds + reload, 1 fresh interpreter
    only = run_pytest(root, "--import-mode=importlib", "payments/tests", "-m", "integration")  # as T4 measures
    assert only.returncode == 0 and "1 passed, 7 deselected" in only.stdout, only.stdout + only.stderr

    project = Project.load(root)
    docs = [p for p in project.listing.all_files if p.endswith(".md")]
    assert docs_check.check(root, docs, project.listing.file_set) == []
    for relpath in written:
        assert marker.is_placeholder((root / relpath).read_text())


def test_docs_show_real_public_names_and_dates(no_outer_git):
    root = payments_repo(no_outer_git / "repo")
    scaffold_payments(root)
    api = (root / "payments/docs/API.md").read_text()
    assert "def charge(amount: int, currency: str='EUR')" in api
    assert "| [`Refund`](#refund) | class | A refund of a charge. |" in api
    assert "_helper" not in api
    context = (root / "payments/CONTEXT.md").read_text()
    assert context.startswith('---\ntype: context\nmodule: "payments"\n')
    assert "updated: 2025-03-14\n" in context and 'lane: "L1"\n' in context


# A module that cannot be imported errors every test at setup: pytest imports the package
# enclosing the tests folder (payments/__init__.py) before running them.
@pytest.mark.parametrize("breakage, outcome, message", [
    (PAYMENTS.replace("def charge(", "def charged("),
     "FAILED payments/tests/test_payments_smoke.py::test_public_name_exists[charge]",
     "payments no longer defines 'charge'"),
    ('raise RuntimeError("broken at import")\n',
     "ERROR payments/tests/test_payments_smoke.py::test_module_imports", "RuntimeError: broken at import"),
], ids=["public-name-removed", "import-fails"])
@pytest.mark.slow
def test_broken_module_fails_the_generated_tests(no_outer_git, breakage, outcome, message):
    root = payments_repo(no_outer_git / "repo")
    scaffold_payments(root)
    write(root / "payments/__init__.py", breakage)
    done = run_pytest(root, "payments/tests")
    assert done.returncode == 1, done.stdout
    assert outcome in done.stdout and message in done.stdout


def test_dry_run_writes_nothing_and_counts_exactly(no_outer_git):
    root = payments_repo(no_outer_git / "repo")
    before = tree_hash(root)
    _, _, docs, tests = plan_all(root)
    text = scaffold.format_plan(docs + tests)
    assert tree_hash(root) == before
    listed = [line.split()[1] for line in text.splitlines() if line.startswith("create ")]
    assert listed == [p.relpath for p in docs + tests]
    assert text.splitlines()[-1] == "11 to create, 0 to update, 0 skipped (exist), 0 skipped (edited by hand)"
    assert sorted(scaffold_payments(root)) == sorted(listed)


def test_apply_twice_writes_nothing_the_second_time(no_outer_git):
    root = payments_repo(no_outer_git / "repo")
    scaffold_payments(root)
    before = tree_hash(root)
    project, module, docs, tests = plan_all(root, today=date(2025, 3, 15))
    assert {p.action for p in docs + tests} == {"skip-exists"}
    assert scaffold.apply(project, module, docs, "scaffold") == []
    assert scaffold.apply(project, module, tests, "test_scaffold") == []
    assert tree_hash(root) == before


def test_ledger_entry_appended_after_the_files_exist(no_outer_git, monkeypatch):
    root = payments_repo(no_outer_git / "repo")
    real_append = ledger.append
    seen = []

    def checking_append(path, record):
        seen.append(all((root / p).is_file() for p in record["files"]))
        return real_append(path, record)

    monkeypatch.setattr(ledger, "append", checking_append)
    scaffold_payments(root)
    assert seen == [True, True]
    for kind, files in (("scaffold", DOC_FILES), ("test_scaffold", TEST_FILES)):
        records = list(ledger.read(root / "manifests/.ledger" / f"{kind}.ndjson"))
        assert len(records) == 1
        record = records[0]
        assert (record["kind"], record["module"], record["created"]) == (kind, "payments", files)
        for relpath, entry in record["files"].items():
            assert entry["sha256"] == hashlib.sha256((root / relpath).read_bytes()).hexdigest()
            assert marker.read((root / relpath).read_text())[0].version == entry["version"]


def test_case_insensitive_collision_counts_as_existing(no_outer_git):
    root = payments_repo(no_outer_git / "repo", **{"payments/docs/api.md": "# Hand-written API\n"})
    _, _, docs, _ = plan_all(root)
    api = next(p for p in docs if p.template == "module/docs/API.md")
    assert (api.action, api.existing) == ("skip-exists", "payments/docs/api.md")
    scaffold_payments(root)
    assert sorted(os.listdir(root / "payments/docs")) == ["ARCHITECTURE.md", "CONTRIBUTING.md", "api.md"]
    assert (root / "payments/docs/api.md").read_text() == "# Hand-written API\n"
    # links go to the file that is really there, so docs_check finds no dead link
    assert "[API reference](docs/api.md)" in (root / "payments/README.md").read_text()
    project = Project.load(root)
    docs_md = [p for p in project.listing.all_files if p.endswith(".md")]
    assert docs_check.check(root, docs_md, project.listing.file_set) == []


def test_update_refreshes_untouched_scaffolds_only_after_a_template_change(no_outer_git):
    root = payments_repo(no_outer_git / "repo")
    scaffold_payments(root)
    edited = (root / "payments/README.md").read_text().replace("# payments", "# Payments, by hand")
    write(root / "payments/README.md", edited)
    untouched_contributing = (root / "payments/docs/CONTRIBUTING.md").read_bytes()

    # no template change: a later day is not a reason to refresh
    _, _, docs, _ = plan_all(root, update=True, today=date(2025, 4, 1))
    assert {p.relpath: p.action for p in docs}["payments/README.md"] == "skip-edited"
    assert {p.action for p in docs} == {"skip-exists", "skip-edited"}

    # the repository customises two templates (no version bump: the source hash tells)
    for name in ("README.md", "CHANGELOG.md"):
        packaged = (Path(scaffold.__file__).parents[2] / "templates/module" / f"{name}.j2").read_text()
        write(root / "templates/module" / f"{name}.j2", packaged + "\nCustomised by the team.\n")
    project, module, docs, _ = plan_all(root, update=True, today=date(2025, 4, 1))
    actions = {p.relpath: p.action for p in docs}
    assert actions["payments/README.md"] == "skip-edited"
    assert actions["payments/CHANGELOG.md"] == "update"
    assert [p.relpath for p in docs if p.action == "update"] == ["payments/CHANGELOG.md"]
    text = scaffold.format_plan(docs)
    assert "+Customised by the team." in text and "-- 2025-03-14:" in text and "+- 2025-04-01:" in text
    assert text.splitlines()[-1] == "0 to create, 1 to update, 5 skipped (exist), 1 skipped (edited by hand)"

    assert scaffold.apply(project, module, docs, "scaffold") == ["payments/CHANGELOG.md"]
    assert (root / "payments/README.md").read_text() == edited
    assert (root / "payments/docs/CONTRIBUTING.md").read_bytes() == untouched_contributing
    changelog = (root / "payments/CHANGELOG.md").read_text()
    assert "Customised by the team." in changelog and marker.is_placeholder(changelog)
    record = list(ledger.read(root / "manifests/.ledger/scaffold.ndjson"))[-1]
    assert record["updated"] == ["payments/CHANGELOG.md"] and record["created"] == []


def test_update_skips_a_scaffold_edited_after_planning(no_outer_git):
    root = payments_repo(no_outer_git / "repo")
    scaffold_payments(root)
    write(root / "templates/module/CHANGELOG.md.j2", "{# version: 2 #}\n# Changelog\n")
    project, module, docs, _ = plan_all(root, update=True)
    assert [p.relpath for p in docs if p.action == "update"] == ["payments/CHANGELOG.md"]
    write(root / "payments/CHANGELOG.md", "# Changelog, edited meanwhile\n")
    assert scaffold.apply(project, module, docs, "scaffold") == []
    assert (root / "payments/CHANGELOG.md").read_text() == "# Changelog, edited meanwhile\n"


def test_targets_outside_the_root_are_refused(no_outer_git):
    outside = no_outer_git / "outside"
    outside.mkdir()
    root = payments_repo(no_outer_git / "repo")
    (root / "payments/docs").symlink_to(outside, target_is_directory=True)
    project = Project.load(root)
    with pytest.raises(scaffold.UnsafePath, match="leaves the repository root"):
        scaffold.plan_docs(project, project.by_name["payments"], TODAY)
    for bad in ("../x.md", "/etc/x.md", "a/../../x.md", ""):
        with pytest.raises(scaffold.UnsafePath):
            scaffold.safe_target(root, bad)
    planned = scaffold.Planned("payments/docs/API.md", "module/docs/API.md", "1", "x\n", "create")
    with pytest.raises(scaffold.UnsafePath):
        scaffold.apply(project, project.by_name["payments"], [planned], "scaffold")
    assert os.listdir(outside) == []


def test_public_names_read_from_source_without_importing():
    source = ('from os import path\n__all__ = ["A", "b", "path"]\ndef b(x, *, y=1): "B does."\n'
              'class A: pass\nclass C: pass\nraise SystemExit\n')
    names = scaffold.public_names(source)
    assert [(n.name, n.kind, n.signature, n.summary) for n in names] == [
        ("A", "class", "", ""), ("b", "function", "(x, *, y=1)", "B does."), ("path", "name", "", "")]
    assert [n.name for n in scaffold.public_names("X = 1\n_y = 2\nasync def go(): pass\n")] == ["X", "go"]
    assert scaffold.public_names("def broken(:\n") == []


def test_lukhas_skeleton_dry_run_is_accurate_and_writes_nothing(lukhas, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(lukhas.parent))
    with open(lukhas / "FILES.tsv", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            path = lukhas / row["path"]
            if not path.exists():
                write(path, "# placeholder\n")
    before = tree_hash(lukhas)
    project = Project.load(lukhas)
    planned = []
    for module in project.modules:
        try:
            planned += scaffold.plan_docs(project, module, TODAY) + scaffold.plan_tests(project, module, TODAY)
        except scaffold.UnsafePath:
            continue
    text = scaffold.format_plan(planned)
    assert tree_hash(lukhas) == before
    creates = [p for p in planned if p.action == "create"]
    assert text.splitlines()[-1].startswith(f"{len(creates)} to create, 0 to update, ")
    assert sum(line.startswith("create ") for line in text.splitlines()) == len(creates)
    lowered = {p.lower() for p in project.listing.all_files}
    assert not any(p.relpath.lower() in lowered for p in creates)
    api = next(p for p in planned if p.relpath == "core/docs/API.md")
    assert (api.action, api.existing) == ("skip-exists", "core/docs/api.md")
