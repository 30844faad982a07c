"""``t4``: doit's commands and options over T4's tasks, for any ``--root``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from t4tasks import cli

from tests.support import GENERATED, doit_tasks, git_init, make_repo, manifest, read_registry, run_t4


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo", {"alpha": manifest("alpha"), "beta": manifest("beta")},
                     files={"alpha/README.md": "# a\n"})


def test_help_mentions_root_and_shows_doit_help(repo):
    code, out, err = run_t4(repo, "--help")
    assert code == 0, err
    assert "--root DIR" in out
    assert "t4 [--root DIR]" in out
    # doit's own help follows
    assert "doit" in out.split("The rest of this help is doit's own.", 1)[1]
    assert "list" in out and "forget" in out


@pytest.mark.parametrize("args", [["--help"], ["help"], ["--version"]])
def test_help_and_version_read_no_repository(tmp_path, monkeypatch, capsys, args):
    # outside a repository (a home folder, /tmp) walking the tree could take minutes
    def walk(*_):
        raise AssertionError("the repository was read")

    monkeypatch.setattr(cli.tasks, "current", walk)
    assert cli.main(["--root", str(tmp_path), *args]) == 0
    assert ("doit" in capsys.readouterr().out)


def test_a_closed_pipe_ends_the_output_quietly(repo):
    proc = subprocess.Popen([sys.executable, "-c", "from t4tasks.cli import run; run()", "--root", str(repo), "--help"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()  # `t4 --help | head -c 10`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_list_shows_the_tasks(repo):
    code, out, err = run_t4(repo, "list")
    assert code == 0, err
    names = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {"registry", "docmap", "check_manifests"} <= names
    # list runs nothing
    assert not (repo / GENERATED).exists()


def test_info_registry(repo):
    code, out, err = run_t4(repo, "info", "registry")
    # doit's info exits 1 while the task is not up to date, and says why
    assert code == 1, err
    assert "Discover manifests" in out and "docs/_generated/MODULE_REGISTRY.json" in out
    assert "status     : run" in out and "targets do not exist" in out
    assert run_t4(repo, "registry")[0] == 0
    code, out, _ = run_t4(repo, "info", "registry")
    assert code == 0 and "up-to-date" in out


@pytest.mark.parametrize("how, rerun", [
    (("forget", "registry", "docmap"), ["registry", "docmap"]),
    (("forget", "--all"), ["registry", "summaries", "docmap"]),
])
@pytest.mark.slow
def test_forget_then_rerun_executes_again(repo, how, rerun):
    # (a bare ``t4 forget`` forgets doit's default tasks, whatever they are)
    assert run_t4(repo, "registry", "docmap")[0] == 0
    code, out, _ = run_t4(repo, "registry", "docmap")
    assert doit_tasks(out) == ([], ["registry", "summaries", "docmap"])
    code, out, err = run_t4(repo, *how)
    assert code == 0, err
    code, out, err = run_t4(repo, "registry", "docmap")
    assert code == 0, err
    assert doit_tasks(out)[0] == rerun


def test_forget_one_task(repo):
    assert run_t4(repo, "registry", "docmap")[0] == 0
    assert run_t4(repo, "forget", "docmap")[0] == 0
    executed, uptodate = doit_tasks(run_t4(repo, "registry", "docmap")[1])
    assert executed == ["docmap"] and uptodate == ["registry", "summaries"]


@pytest.mark.parametrize("style", ["separate", "equals"])
def test_root_elsewhere_from_another_cwd(repo, tmp_path, style):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args = ["--root", str(repo)] if style == "separate" else [f"--root={repo}"]
    code, out, err = run_t4(None, *args, "registry", "docmap", cwd=elsewhere)
    assert code == 0, err
    assert [m["name"] for m in read_registry(repo)["modules"]] == ["alpha", "beta"]
    assert list(elsewhere.iterdir()) == []          # nothing written in the cwd
    assert (repo / ".t4" / "doit.sqlite3").is_file()


def test_root_after_the_command_and_relative(repo):
    code, out, err = run_t4(None, "registry", "--root", "repo", cwd=repo.parent)
    assert code == 0, err
    assert read_registry(repo)["module_count"] == 2


def test_without_root_uses_cwd(repo):
    code, out, err = run_t4(None, "registry", cwd=repo)
    assert code == 0, err
    assert read_registry(repo)["module_count"] == 2


def test_root_not_a_directory(tmp_path):
    code, out, err = run_t4(None, "--root", str(tmp_path / "missing"), "list", cwd=tmp_path)
    assert code == 2
    assert "not a directory" in err


def test_parallel(repo):
    code, out, err = run_t4(repo, "-n", "2", "registry", "docmap", "check_manifests")
    assert code == 0, err
    assert sorted(doit_tasks(out)[0]) == ["check_manifests", "docmap", "registry", "summaries"]
    assert (repo / GENERATED / "MODULE_INDEX.md").is_file()
    code, out, err = run_t4(repo, "registry", "docmap", "check_manifests", "-n", "2")
    assert code == 0, err
    assert doit_tasks(out)[0] == []


def test_unknown_task_is_an_error(repo):
    code, out, err = run_t4(repo, "no_such_task")
    assert code != 0
    assert "no_such_task" in err


def test_split_root():
    assert cli.split_root(["--root", "x", "list"]) == (cli.Path("x"), ["list"])
    assert cli.split_root(["list", "--root=y", "-n", "2"]) == (cli.Path("y"), ["list", "-n", "2"])
    with pytest.raises(SystemExit):
        cli.split_root(["--root"])


def test_another_reporter_keeps_the_run_memory_and_the_same_outputs(repo, tmp_path):
    # the run memory learns that a task ended from T4's state backend, not from the reporter:
    # doit's json reporter gives the same files as T4's own
    import shutil

    assert cli._other_backend(["--backend", "dbm", "validate"]) and cli._other_backend(["--backend=json"])
    assert not cli._other_backend(["-n", "2", "--reporter", "json", "validate"])
    other = tmp_path / "other"
    shutil.copytree(repo, other, symlinks=True)
    code, out, err = run_t4(repo, "--reporter", "json", "registry", "docmap")
    assert code == 0, err
    assert {t["name"] for t in json.loads(out)["tasks"]} >= {"registry", "docmap"}
    assert run_t4(other, "registry", "docmap")[0] == 0
    for name in ("MODULE_REGISTRY.json", "MODULE_INDEX.md", "DOCUMENTATION_MAP.md"):
        assert (repo / "docs/_generated" / name).read_bytes() == (other / "docs/_generated" / name).read_bytes()


def test_the_plan_is_made_within_the_runs_memory(repo, monkeypatch):
    # t4 makes the plan before doit loads the creators; inside the run's memory its keys take clean
    # files' ids from git's listing instead of a stat each (10,000 manifests: 50,000 stats)
    from t4tasks import tasks
    from t4tasks.speed import digests

    within = []
    made = tasks.plan

    def plan(project, **options):
        within.append(digests._cache.run is not None)
        return made(project, **options)

    monkeypatch.setattr(tasks, "plan", plan)
    monkeypatch.chdir(repo)
    try:
        cli.main(["validate"])  # its verdict on this repository does not matter here
    finally:
        cli.load_cached.cache_clear()
    assert within and all(within)


def test_the_command_exits_after_exit_handlers_and_with_the_run_code(repo, tmp_path):
    # `t4` skips the interpreter's teardown, not its exit handlers (coverage.py saves a measured
    # subprocess's data in one) nor output still in a buffer
    ran = tmp_path / "exit-handler-ran"
    script = ("import atexit, sys\n"
              f"atexit.register(lambda: open({str(ran)!r}, 'w').write('ran'))\n"
              "from t4tasks import cli\n"
              "sys.stdout.write('buffered line\\n')\n"
              "cli.run()\n")
    for args, code in ((["registry"], 0), (["--root", str(tmp_path / "missing"), "list"], 2)):
        ran.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-c", script, *args], cwd=repo, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == code, proc.stderr
        assert proc.stdout.startswith("buffered line\n")
        assert ran.read_text() == "ran"
    assert (repo / GENERATED / "MODULE_REGISTRY.json").is_file()


def test_task_help_flag_shows_that_tasks_options(tmp_path):
    root = make_repo(tmp_path / "repo", {}, {"pkg/__init__.py": ""})
    for flag in ("--help", "-h"):
        code, out, err = run_t4(root, "init", flag)
        assert code == 0, out + err
        assert "--apply" in out and "--depth" in out and "Invalid parameter" not in out + err
    code, out, err = run_t4(root, "scaffold_docs", "--help")
    assert code == 0 and "--module" in out and "--update" in out, out + err


def test_validate_dashboard_in_one_command_shows_the_fresh_report(tmp_path):
    root = make_repo(tmp_path / "repo", {"pkg": manifest("pkg")},
                     {"pkg/__init__.py": "", "pkg/tests/test_pkg.py": "def test_ok():\n    assert True\n"})
    git_init(root)
    assert run_t4(root, "coverage")[0] == 0
    assert not (root / GENERATED / "VALIDATION_REPORT.json").exists()
    run_t4(root, "validate", "dashboard")   # validate fails (no README): the page still shows why
    page = (root / GENERATED / "dashboard" / "index.html").read_text(encoding="utf-8")
    assert "No validation report" not in page
    assert "required doc missing" in page
