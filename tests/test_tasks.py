"""The doit tasks end to end: real ``t4`` runs in temporary folders.

Invariants: a second run executes nothing; content (never mtimes) decides; outputs are
byte-identical; bad manifests give a precise error and a non-zero exit without losing the others.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import orjson
import pytest

from tests.support import (GENERATED, OUTPUTS, doit_tasks, git, git_init, make_repo, manifest, read_registry,
                      run_t4)

ALL = ("registry", "summaries", "docmap", "check_manifests")


def sample(root):
    return make_repo(root, {
        "memory": manifest("memory", description="Memory.", ownership={"team": "core"}),
        "vision": manifest("vision", description="Vision."),
        "pkg/audio": {"module": {"name": "audio", "lane": "L3"}},
    }, files={"memory/README.md": "# m\n", "memory/tests/test_m.py": "", "tests/vision/test_v.py": "",
              "pkg/audio/docs/a.md": "a"})


def t4(root, *args):
    code, out, err = run_t4(root, *args)
    executed, uptodate = doit_tasks(out)
    return code, executed, uptodate, err


def outputs(root):
    return {name: (root / GENERATED / name).read_bytes() for name in OUTPUTS}


def mtimes(root):
    return {name: (root / GENERATED / name).stat().st_mtime_ns for name in OUTPUTS}


def test_second_run_executes_nothing(tmp_path):
    root = sample(tmp_path / "r")
    code, executed, uptodate, err = t4(root, *ALL)
    assert code == 0, err
    assert sorted(executed) == sorted(ALL) and uptodate == []
    before, stamps = outputs(root), mtimes(root)
    code, executed, uptodate, err = t4(root, *ALL)
    assert code == 0, err
    assert executed == [] and sorted(uptodate) == sorted(ALL)
    assert outputs(root) == before and mtimes(root) == stamps


def test_byte_identical_across_clean_runs_in_different_folders(tmp_path):
    a, b = sample(tmp_path / "one"), sample(tmp_path / "elsewhere" / "two")
    for root in (a, b):
        code, _, _, err = t4(root, "registry", "docmap")
        assert code == 0, err
    assert outputs(a) == outputs(b)
    assert str(tmp_path).encode() not in b"".join(outputs(a).values())  # no absolute paths inside


def test_changing_one_manifest_reruns_dependents_only(tmp_path):
    root = sample(tmp_path / "r")
    assert t4(root, *ALL)[0] == 0
    before = outputs(root)
    path = root / "vision" / "module.manifest.json"
    data = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**data, "description": "Vision, reworded."}))
    code, executed, uptodate, err = t4(root, *ALL)
    assert code == 0, err
    # summaries read no description: their task stays up to date, and the index still shows them
    assert sorted(executed) == ["check_manifests", "docmap", "registry"] and uptodate == ["summaries"]
    after = outputs(root)
    assert b"Vision, reworded." in after["MODULE_REGISTRY.json"] and b"Vision, reworded." in after["MODULE_INDEX.md"]
    assert after["DOCUMENTATION_MAP.md"] == before["DOCUMENTATION_MAP.md"]  # nothing there changed
    assert after["MODULE_SUMMARIES.json"] == before["MODULE_SUMMARIES.json"]


def test_moving_a_modules_docs_reruns_the_summaries(tmp_path):
    root = sample(tmp_path / "r")
    assert t4(root, *ALL)[0] == 0
    (root / "memory" / "README.md").unlink()  # the README its summary came from
    code, executed, _, err = t4(root, *ALL)
    assert code == 0, err
    assert "summaries" in executed


def test_reformatting_a_manifest_changes_no_output_and_skips_docmap(tmp_path):
    root = sample(tmp_path / "r")
    assert t4(root, *ALL)[0] == 0
    before, stamps = outputs(root), mtimes(root)
    path = root / "vision" / "module.manifest.json"
    path.write_bytes(orjson.dumps(orjson.loads(path.read_bytes())) + b"\n")  # same data, new bytes
    code, executed, uptodate, err = t4(root, *ALL)
    assert code == 0, err
    # the registry may re-run (its input bytes changed) but its bytes do not, so docmap is up to date
    assert "docmap" not in executed and "docmap" in uptodate
    assert outputs(root) == before and mtimes(root) == stamps


def test_touching_mtime_only_reruns_nothing(tmp_path):
    root = sample(tmp_path / "r")
    assert t4(root, *ALL)[0] == 0
    for path in [*root.rglob("module.manifest.json"), *(root / GENERATED).iterdir()]:
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    code, executed, uptodate, err = t4(root, *ALL)
    assert code == 0, err
    assert executed == [] and sorted(uptodate) == sorted(ALL)


def test_new_doc_file_reruns_registry_and_docmap(tmp_path):
    root = sample(tmp_path / "r")
    assert t4(root, *ALL)[0] == 0
    (root / "vision" / "README.md").write_text("# vision\n")
    code, executed, _, err = t4(root, *ALL)
    assert code == 0, err
    assert sorted(executed) == ["docmap", "registry", "summaries"]
    assert "[vision](../../vision/README.md)" in (root / GENERATED / "MODULE_INDEX.md").read_text()


def test_config_change_reruns_everything(tmp_path):
    root = sample(tmp_path / "r")
    assert t4(root, *ALL)[0] == 0
    (root / "pyproject.toml").write_text("[tool.t4]\ntimeout = 12\n")
    code, executed, _, err = t4(root, *ALL)
    assert code == 0, err
    assert sorted(executed) == sorted(ALL)


def test_fresh_clone_with_restored_state_reruns_nothing(tmp_path):
    root = sample(tmp_path / "origin")
    git_init(root)
    assert t4(root, *ALL)[0] == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "generated")
    assert git(root, "status", "--porcelain") == ""      # .t4/ is ignored by its own .gitignore
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True, capture_output=True)
    assert not (clone / ".t4").exists()
    shutil.copytree(root / ".t4", clone / ".t4")
    os.utime(clone / "memory" / "module.manifest.json", ns=(2_000_000_000, 2_000_000_000))
    code, executed, uptodate, err = t4(clone, *ALL)
    assert code == 0, err
    assert executed == [] and sorted(uptodate) == sorted(ALL)
    assert outputs(clone) == outputs(root)


BAD = {
    "malformed JSON": ({"broken": b'{"module": "broken",\n "x": }'}, "broken/module.manifest.json:2: invalid JSON"),
    "non-UTF-8": ({"latin": b'{"module": "latin", "description": "\xe9t\xe9"}'},
                  "latin/module.manifest.json:1: not valid UTF-8"),
    "duplicate name": ({"zz/memory": manifest("memory")},
                       "zz/memory/module.manifest.json: /module: duplicate module name 'memory'"),
    "path escaping the root": ({"esc": manifest("esc", layout={"paths": {"tests": "../../outside"}})},
                               "esc/module.manifest.json: /layout/paths/tests: '../../outside' leaves the repository root"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD))
def test_bad_manifest_fails_but_keeps_the_others(tmp_path, case):
    extra, message = BAD[case]
    root = make_repo(sample(tmp_path / "r"), extra)
    code, executed, _, err = t4(root, *ALL)
    assert code != 0
    assert message in err
    assert "Traceback" not in err
    assert sorted(executed) == sorted(ALL)
    names = [m["name"] for m in read_registry(root)["modules"]]
    assert {"audio", "memory", "vision"} <= set(names)
    assert (root / GENERATED / "MODULE_INDEX.md").is_file()
    # the failure is not remembered as success: it is reported again
    code, executed, _, err = t4(root, "check_manifests")
    assert code != 0 and executed == ["check_manifests"] and message in err


def test_state_folder(tmp_path):
    root = sample(tmp_path / "r")
    assert t4(root, "registry")[0] == 0
    assert (root / ".t4" / ".gitignore").read_text().strip() == "*"
    assert (root / ".t4" / "doit.sqlite3").read_bytes().startswith(b"SQLite format 3")
    assert not list(root.glob(".doit.db*"))
    leftovers = [p for p in (root / GENERATED).iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_root_module_converges(tmp_path):
    root = make_repo(tmp_path / "r", {".": manifest("top")}, files={"docs/guide.md": "g"})
    assert t4(root, "registry", "docmap")[0] == 0
    code, executed, _, err = t4(root, "registry", "docmap")
    assert code == 0, err
    assert executed == []
    assert read_registry(root)["modules"][0]["docs"] == ["docs/guide.md"]


def test_check_manifests_sees_a_new_symlink_escape(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "test_x.py").write_text("")
    root = make_repo(tmp_path / "r", {"m": manifest("m", layout={"paths": {"tests": "tests"}}),
                                      "ok": manifest("ok")})
    git_init(root)
    assert t4(root, *ALL)[0] == 0
    os.symlink(outside, root / "m" / "tests")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "symlink")
    code, executed, _, err = t4(root, *ALL)
    assert "m/module.manifest.json: /layout/paths/tests: 'tests' leaves the repository root" in err
    assert code != 0
    assert "check_manifests" in executed


def test_lukhas_no_op_rerun(lukhas):
    code, executed, _, err = t4(lukhas, "registry", "docmap")
    assert code == 0, err
    assert sorted(executed) == ["docmap", "registry", "summaries"]
    code, executed, uptodate, err = t4(lukhas, "registry", "docmap")
    assert code == 0, err
    assert executed == [] and sorted(uptodate) == ["docmap", "registry", "summaries"]


@pytest.mark.slow
def test_validate_follows_the_content_of_what_it_reads_and_a_commit_changes_nothing(tmp_path):
    """validate, META and the summaries read thousands of repository files at scale: they
    depend on those files' content ids (git blob ids, the listing's for a clean file) rather than
    on a doit file_dep each. An edit reruns exactly the tasks that read the file; committing the
    edit changes no content, so it reruns nothing."""
    root = make_repo(tmp_path / "r", {
        "alpha": manifest("alpha", description="Adds numbers."),
        "beta": manifest("beta", description="Multiplies numbers."),
    }, files={"alpha/__init__.py": '"""Alpha adds numbers."""\n\n\ndef add(a, b):\n    return a + b\n',
              "beta/__init__.py": '"""Beta multiplies numbers."""\n',
              "alpha/README.md": "# Alpha\n\nAdds numbers.\n",
              "beta/README.md": "# Beta\n\nMultiplies numbers.\n"})
    git_init(root)
    assert t4(root, "validate")[0] == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "generated")
    assert t4(root, "validate")[1] == []

    (root / "alpha" / "__init__.py").write_text('"""Alpha adds numbers."""\n\n\ndef add(a, b):\n    return b + a\n')
    code, executed, _, err = t4(root, "validate")
    assert code == 0, err
    # the code is an input of alpha's coverage (validate) and its docstring a summary source
    assert sorted(executed) == ["summaries", "validate"]
    git(root, "commit", "-q", "-am", "reorder")
    code, executed, _, err = t4(root, "validate")
    assert (code, executed) == (0, []), err

    (root / "beta" / "README.md").write_text("# Beta\n\nMultiplies numbers, and says more.\n")
    code, executed, _, err = t4(root, "validate")
    assert code == 0, err
    assert sorted(executed) == ["meta_registry", "summaries", "validate"]   # a doc, and beta's summary source
    git(root, "add", "-A")                                                   # staged: the same content
    code, executed, _, err = t4(root, "validate")
    assert (code, executed) == (0, []), err


def test_measurements_start_longest_recorded_first(tmp_path):
    # with -n, the module that ran longest last time starts first, so the last to start is short;
    # never measured modules come first in name order (one of them may be the longest)
    sleeps = {"alpha": 0.0, "beta": 1.2, "gamma": 0.6}
    root = make_repo(tmp_path / "r", {n: manifest(n) for n in sleeps}, files={
        **{f"{n}/__init__.py": "X = 1\n" for n in sleeps},
        **{f"{n}/tests/test_{n}.py": f"import time\n\n\ndef test_it():\n    time.sleep({s})\n"
           for n, s in sleeps.items()},
    })
    git_init(root)
    first = doit_tasks(run_t4(root, "coverage", "-n", "1")[1])[0]
    assert first == ["coverage:alpha", "coverage:beta", "coverage:gamma"]
    for name in sleeps:
        (root / name / "__init__.py").write_text("X = 2\n", encoding="utf-8")
    (root / "delta").mkdir()
    (root / "delta/module.manifest.json").write_bytes(orjson.dumps(manifest("delta")))
    second = doit_tasks(run_t4(root, "coverage", "-n", "1")[1])[0]
    assert second == ["coverage:delta", "coverage:beta", "coverage:gamma", "coverage:alpha"]


def test_no_task_captures_its_output(tmp_path, monkeypatch):
    # doit's capture swaps sys.stdout per action, and with -n its worker threads interleave the
    # swaps until a freed capture object is printed to: `t4 smoke -n 2` died with SIGSEGV in 14
    # runs of 60. Every task of every creator, as the CLI and dodo.py load them, shows its output.
    import types

    from doit.cmd_base import ModuleTaskLoader

    from t4tasks import cli, tasks

    root = sample(tmp_path / "repo")
    monkeypatch.chdir(root)
    try:
        loader = ModuleTaskLoader(cli._namespace())
        loader.setup({})
        loader.load_doit_config()
        loaded = loader.load_tasks(cmd=types.SimpleNamespace(execute_tasks=True), pos_args=[])
    finally:
        cli.load_cached.cache_clear()
    assert {t.name.split(":")[0] for t in loaded} >= set(tasks.DEFAULT_TASKS) | {"smoke", "tests_fast"}
    assert [t.name for t in loaded if t.actions and t.io.capture] == []  # a group task runs nothing
