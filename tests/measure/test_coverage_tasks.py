"""``coverage:<module>`` end to end: real repositories, real git, real pytest, the real ``t4`` CLI.

Each test builds a small monorepo in ``tmp_path`` and runs ``t4 coverage`` in a subprocess. Expected
percentages never come from T4: they come from coverage.py itself, run the plain way
(``coverage run --branch --source=<pkg> -m pytest <tests>``) on an untouched copy of the repository.
"""

from __future__ import annotations

import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import MANIFEST, git_init, latest, ledger_lines, make_repo, manifest, t4_run, write

LEDGER = Path("manifests/.ledger/coverage.ndjson")
RESULTS = Path(".t4/results/coverage")
# fields of a ledger entry that legitimately differ between two runs of the same inputs
VOLATILE = {"ts", "prev", "duration_s", "git_commit", "_line"}


# --------------------------------------------------------------------------------------------
# helpers








def stable(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in VOLATILE}


def read_manifest(root: Path, folder: str) -> dict:
    return json.loads((root / folder / MANIFEST).read_text(encoding="utf-8"))


def observed_block(root: Path, folder: str) -> dict:
    testing = read_manifest(root, folder)["testing"]
    return {k: testing[k] for k in ("coverage_observed", "observed_at", "observed_digest")}


def write_manifest(root: Path, folder: str, data: dict) -> None:
    """A hand-written manifest: 2-space indent, non-ASCII kept, trailing newline."""
    write(root / folder / MANIFEST, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def plain_coverage(root: Path, source: str, tests: str, omit: list[str], scratch: Path) -> dict:
    """What coverage.py says, run the plain way on ``root`` (an untouched copy of the repo).

    Returns the JSON report's totals and the ``coverage report`` TOTAL at 2 decimals.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")}
    env["COVERAGE_FILE"] = str(scratch / ".coverage")
    env["GIT_CEILING_DIRECTORIES"] = str(root.parent)
    run = [sys.executable, "-m", "coverage", "run", "--branch", f"--source={source}"]
    if omit:
        run.append("--omit=" + ",".join(omit))
    subprocess.run([*run, "-m", "pytest", tests, "-q", "-p", "no:cacheprovider", "-p", "no:cov"],
                   cwd=root, env=env, capture_output=True, text=True, timeout=120)
    report = scratch / "coverage.json"
    subprocess.run([sys.executable, "-m", "coverage", "json", "-o", str(report)],
                   cwd=root, env=env, check=True, capture_output=True, timeout=60)
    total = subprocess.run([sys.executable, "-m", "coverage", "report", "--precision=2", "--format=total"],
                           cwd=root, env=env, check=True, capture_output=True, text=True, timeout=60)
    data = json.loads(report.read_text())
    return {**data["totals"], "report_total": float(total.stdout.strip()), "file_names": sorted(data["files"])}


def assert_matches_plain(entry: dict, plain: dict) -> None:
    assert entry["status"] == "ok", entry
    # the host measures no branches, so the headline is coverage.py's line figure
    assert entry["headline"] == "line"
    assert entry["coverage"] == round(100 * plain["covered_lines"] / plain["num_statements"], 2)
    assert entry["line_pct"] == entry["coverage"]
    if plain["num_branches"]:
        assert entry["branch_pct"] == round(100 * plain["covered_branches"] / plain["num_branches"], 2)
    assert entry["statements"] == plain["num_statements"]
    assert entry["covered_lines"] == plain["covered_lines"]
    assert entry["branches"] == plain["num_branches"]
    assert entry["covered_branches"] == plain["covered_branches"]
    assert entry["files"] == len(plain["file_names"])


def kill_orphans(root: Path) -> None:
    """Kill, by pid, pytest processes T4 started for ``root`` (they run in their own session, so
    a SIGKILL of t4's process group does not reach them)."""
    marker = f"--rootdir={root}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in argv:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


# --------------------------------------------------------------------------------------------
# the 3-module repository

SOURCES = {
    # 6 statements, 2 branches; sign(5): 4 lines + 1 branch -> 62.5 %
    "alpha": ("def sign(x):\n    if x > 0:\n        return 1\n    return -1\n\n\ndef unused():\n    return 0\n",
              "from alpha.core import sign\n\n\ndef test_sign():\n    assert sign(5) == 1\n"),
    # fully covered
    "beta": ("def double(x):\n    return 2 * x\n",
             "from beta.core import double\n\n\ndef test_double():\n    assert double(2) == 4\n"),
    # one call of three functions
    "gamma": ("def a():\n    return 1\n\n\ndef b(x):\n    for i in range(x):\n        if i % 2:\n"
              "            return i\n    return None\n\n\ndef c():\n    return 3\n",
              "from gamma.core import a, b\n\n\ndef test_a():\n    assert a() == 1\n\n\n"
              "def test_b():\n    assert b(0) is None\n"),
}

# Hand-written manifests with a deliberate, unsorted key order; one with a testing block already
# present (extra keys must stay where they are) and non-ASCII text (must stay unescaped).
MANIFESTS = {
    "alpha": {"schema_version": "1.0.0", "module": "alpha", "matrix": {"lane": "L1"},
              "description": "Météo helpers", "testing": {"coverage_target": 50, "notes": "keep"},
              "zz_last": [1, 2], "aa_after": {"x": 1}},
    "beta": {"module": "beta", "schema_version": "1.0.0", "matrix": {"lane": "L2"}, "owner": "team-b"},
    "gamma": {"schema_version": "1.0.0", "testing": {}, "module": "gamma", "matrix": {"lane": "L0"}},
}


def three_module_repo(root: Path) -> Path:
    files = {"README.md": "# monorepo\n", "docs/guide.md": "guide\n"}
    for name, (code, test) in SOURCES.items():
        files[f"{name}/__init__.py"] = ""
        files[f"{name}/core.py"] = code
        files[f"{name}/tests/test_core.py"] = test
    make_repo(root, {}, files)
    for name, data in MANIFESTS.items():
        write_manifest(root, name, data)
    return git_init(root)


@pytest.mark.slow
def test_three_modules_match_coverage_and_manifests_keep_their_format(tmp_path):
    root = three_module_repo(tmp_path / "repo")
    pristine = tmp_path / "plain"
    shutil.copytree(root, pristine, symlinks=True)
    before = {name: (root / name / MANIFEST).read_text(encoding="utf-8") for name in SOURCES}

    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0, out
    assert sorted(executed) == [f"coverage:{n}" for n in sorted(SOURCES)]

    entries = ledger_lines(root / LEDGER)
    assert len(entries) == 3 and sorted(e["module"] for e in entries) == sorted(SOURCES)
    for name in SOURCES:
        entry = latest(entries)[name]
        plain = plain_coverage(pristine, name, f"{name}/tests", [f"{name}/tests/*"], tmp_path / f"cov-{name}")
        assert_matches_plain(entry, plain)
        # the manifest and the ledger record join exactly: same value, timestamp and digest
        block = observed_block(root, name)
        assert block == {"coverage_observed": entry["coverage"], "observed_at": entry["ts"],
                         "observed_digest": entry["input_digest"]}
        assert entry["ts"].endswith("+00:00")
        # the per-module result target carries the same record
        # (minus "prev": a freshly appended record is written without it, a found one with it)
        result = json.loads((root / RESULTS / f"{name}.json").read_text())
        assert result.pop("outcome") == "recorded"  # appended, not "unchanged" nor from the ledger
        assert {k: v for k, v in result.items() if k != "prev"} == {k: v for k, v in entry.items() if k != "prev"}

    # only the testing block changed: same key order, same 2-space formatting, same escaping
    assert latest(entries)["alpha"]["coverage"] == 66.67 and latest(entries)["beta"]["coverage"] == 100.0
    for name, original in MANIFESTS.items():
        text = (root / name / MANIFEST).read_text(encoding="utf-8")
        expected = json.loads(before[name])
        expected.setdefault("testing", {}).update(observed_block(root, name))
        assert text == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
        assert list(json.loads(text)) == list(original) + ([] if "testing" in original else ["testing"])
    assert "Météo" in (root / "alpha" / MANIFEST).read_text(encoding="utf-8")
    assert list(read_manifest(root, "alpha")["testing"]) == [
        "coverage_target", "notes", "coverage_observed", "observed_at", "observed_digest"]


@pytest.mark.slow
def test_incremental_reruns(tmp_path):
    root = three_module_repo(tmp_path / "repo")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and len(executed) == 3, out

    def snapshot():
        return {p: (root / p).read_bytes()
                for p in [str(LEDGER), *(f"{n}/{MANIFEST}" for n in SOURCES)]}

    # nothing changed: nothing runs, no file changes
    state = snapshot()
    code, executed, uptodate, out = t4_run(root, "coverage")
    assert code == 0, out
    assert executed == [] and sorted(uptodate) == [f"coverage:{n}" for n in sorted(SOURCES)]
    assert snapshot() == state

    # one module's source changes: exactly that module reruns and is recorded
    with open(root / "beta" / "core.py", "a") as handle:
        handle.write("\n\ndef triple(x):\n    return 3 * x\n")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0, out
    assert executed == ["coverage:beta"]
    entries = ledger_lines(root / LEDGER)
    assert len(entries) == 4 and entries[-1]["module"] == "beta"
    assert entries[-1]["coverage"] < 100.0
    assert observed_block(root, "beta")["observed_digest"] == entries[-1]["input_digest"]
    now = snapshot()
    for name in ("alpha", "gamma"):
        assert now[f"{name}/{MANIFEST}"] == state[f"{name}/{MANIFEST}"]

    # unrelated files change (top-level docs, a new script outside every module, an unrelated
    # pyproject section that T4 bypasses): nothing reruns
    state = snapshot()
    write(root / "README.md", "# monorepo\n\nmore words\n")
    write(root / "docs" / "guide.md", "a new guide\n")
    write(root / "scripts" / "tool.py", "print('hi')\n")
    write(root / "pyproject.toml", "[tool.black]\nline-length = 100\n")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0, out
    assert executed == []
    assert snapshot() == state

    # a test file changes: that module reruns
    with open(root / "alpha" / "tests" / "test_core.py", "a") as handle:
        handle.write("\n\ndef test_negative():\n    assert sign(-1) == -1\n")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and executed == ["coverage:alpha"], out
    entry = latest(ledger_lines(root / LEDGER))["alpha"]
    assert (entry["coverage"], entry["branch_pct"]) == (83.33, 100.0)  # both arcs now; unused() still not


@pytest.mark.slow
def test_parallel_run_records_the_same_as_a_serial_run(tmp_path):
    serial = three_module_repo(tmp_path / "serial")
    parallel = tmp_path / "parallel"
    shutil.copytree(serial, parallel, symlinks=True)

    code, executed, _, out = t4_run(serial, "coverage", "-n", "1")
    assert code == 0 and len(executed) == 3, out
    code, executed, _, out = t4_run(parallel, "coverage", "-n", "3")
    assert code == 0 and len(executed) == 3, out

    def content(root):
        return sorted(json.dumps(stable(e), sort_keys=True) for e in ledger_lines(root / LEDGER))

    assert len(content(parallel)) == 3
    assert content(parallel) == content(serial)
    for name in SOURCES:
        a, b = observed_block(serial, name), observed_block(parallel, name)
        assert a["coverage_observed"] == b["coverage_observed"] and a["observed_digest"] == b["observed_digest"]
    # the parallel ledger is one intact hash chain
    from t4tasks.ledgers import ledger
    assert ledger.verify_chain(parallel / LEDGER) == []


# --------------------------------------------------------------------------------------------
# layouts


LAYOUT_CODE = "def f(x):\n    if x:\n        return 1\n    return 0\n\n\ndef g():\n    return 2\n"


@pytest.mark.slow
def test_both_layouts_and_a_tests_override(tmp_path):
    root = tmp_path / "repo"
    make_repo(root, {
        "inner": manifest("inner"),
        "outer": manifest("outer"),
        "custom": manifest("custom", layout={"paths": {"tests": "../qa/custom_checks"}}),
    }, files={
        # tests inside the module
        "inner/__init__.py": "", "inner/core.py": LAYOUT_CODE,
        "inner/tests/test_inner.py": "from inner.core import f\n\n\ndef test_f():\n    assert f(1) == 1\n",
        # a parallel tests/<module> tree
        "outer/__init__.py": "", "outer/core.py": LAYOUT_CODE,
        "tests/outer/test_outer.py": ("from outer.core import f, g\n\n\ndef test_f():\n    assert f(0) == 0\n\n\n"
                                      "def test_g():\n    assert g() == 2\n"),
        # tests somewhere no default pattern looks: only the manifest override finds them
        "custom/__init__.py": "", "custom/core.py": LAYOUT_CODE,
        "qa/custom_checks/test_custom.py": ("from custom.core import f, g\n\n\ndef test_f():\n    assert f(1) == 1\n"
                                            "    assert f(0) == 0\n\n\ndef test_g():\n    assert g() == 2\n"),
    })
    git_init(root)
    pristine = tmp_path / "plain"
    shutil.copytree(root, pristine, symlinks=True)

    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and len(executed) == 3, out
    entries = latest(ledger_lines(root / LEDGER))
    expected_tests = {"inner": 1, "outer": 2, "custom": 2}
    for name, tests, omit in (("inner", "inner/tests", ["inner/tests/*"]),
                              ("outer", "tests/outer", []),
                              ("custom", "qa/custom_checks", [])):
        plain = plain_coverage(pristine, name, tests, omit, tmp_path / f"cov-{name}")
        assert_matches_plain(entries[name], plain)
        assert entries[name]["tests"]["passed"] == expected_tests[name]
        assert observed_block(root, name)["coverage_observed"] == entries[name]["coverage"]
    assert entries["custom"]["coverage"] == 100.0
    assert entries["inner"]["coverage"] != entries["outer"]["coverage"]

    # the override's tests are inputs: changing them reruns exactly that module
    with open(root / "qa" / "custom_checks" / "test_custom.py", "a") as handle:
        handle.write("\n\ndef test_more():\n    assert True\n")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and executed == ["coverage:custom"], out


NESTED_FILES = {
    "a/__init__.py": "",
    "a/core.py": "def quad(x):\n    return 4 * x\n\n\ndef other(x):\n    if x:\n        return 1\n    return 2\n",
    "a/b/__init__.py": "",
    "a/b/deep.py": ("from a.core import other\n\n\ndef half(x):\n    return other(x) and x / 2\n\n\n"
                    "def unused():\n    return 0\n"),
}
TEST_A = "from a.core import quad\n\n\ndef test_quad():\n    assert quad(1) == 4\n"
TEST_B = "from a.b.deep import half\n\n\ndef test_half():\n    assert half(4) == 2\n"


@pytest.mark.slow
def test_nested_modules_get_two_numbers(tmp_path):
    root = tmp_path / "repo"
    make_repo(root, {"a": manifest("a"), "a/b": manifest("a.b")},
              files={**NESTED_FILES, "a/tests/test_core.py": TEST_A, "a/b/tests/test_deep.py": TEST_B})
    git_init(root)
    pristine = tmp_path / "plain"
    shutil.copytree(root, pristine, symlinks=True)

    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and sorted(executed) == ["coverage:a", "coverage:a.b"], out
    entries = latest(ledger_lines(root / LEDGER))
    plain_a = plain_coverage(pristine, "a", "a/tests", ["a/tests/*", "a/b/*"], tmp_path / "cov-a")
    plain_b = plain_coverage(pristine, "a/b", "a/b/tests", ["a/b/tests/*"], tmp_path / "cov-b")
    assert not any(f.startswith("a/b/") for f in plain_a["file_names"])
    assert_matches_plain(entries["a"], plain_a)
    assert_matches_plain(entries["a.b"], plain_b)
    assert entries["a"]["files"] == 2  # a/__init__.py and a/core.py, never a/b's files
    assert entries["a"]["coverage"] != entries["a.b"]["coverage"]
    assert observed_block(root, "a")["coverage_observed"] == entries["a"]["coverage"]
    assert observed_block(root, "a/b")["coverage_observed"] == entries["a.b"]["coverage"]

    # a/b's files are a/b's inputs only
    with open(root / "a" / "b" / "deep.py", "a") as handle:
        handle.write("\n\ndef more():\n    return 1\n")
    code, executed, _, out = t4_run(root, "coverage")
    assert code == 0 and executed == ["coverage:a.b"], out


@pytest.mark.slow
def test_nested_modules_in_a_parallel_tests_tree(tmp_path):
    root = tmp_path / "repo"
    make_repo(root, {"a": manifest("a"), "a/b": manifest("a.b")},
              files={**NESTED_FILES, "tests/a/test_core.py": TEST_A, "tests/a/b/test_deep.py": TEST_B})
    git_init(root)
    pristine = tmp_path / "plain"
    shutil.copytree(root, pristine, symlinks=True)
    code, _, _, out = t4_run(root, "coverage")
    assert code == 0, out
    entries = latest(ledger_lines(root / LEDGER))
    # a's own tests only (a.b's tests are a.b's): quad covered, other not
    plain_a = subprocess_plain_without(pristine, tmp_path)
    assert entries["a"]["tests"]["passed"] == 1
    assert_matches_plain(entries["a"], plain_a)
    # editing a.b's tests must not rerun a
    with open(root / "tests" / "a" / "b" / "test_deep.py", "a") as handle:
        handle.write("\n\ndef test_more():\n    assert True\n")
    code, executed, _, out = t4_run(root, "coverage")
    assert executed == ["coverage:a.b"], out


def subprocess_plain_without(pristine: Path, tmp_path: Path) -> dict:
    """a's plain coverage from a's own tests only (a.b's test folder moved out of the way)."""
    shutil.rmtree(pristine / "tests" / "a" / "b")
    return plain_coverage(pristine, "a", "tests/a", ["a/b/*"], tmp_path / "cov-a")


# --------------------------------------------------------------------------------------------
# statuses: one bad module never blocks the others

OK_CODE = "def f(x):\n    return x\n"


def status_repo(root: Path, extra_modules: dict | None = None, extra_files: dict | None = None) -> Path:
    modules = {n: manifest(n) for n in ("healthy", "failing", "hanging", "empty", "broken")}
    files = {
        "healthy/__init__.py": "", "healthy/core.py": OK_CODE,
        "healthy/tests/test_h.py": "from healthy.core import f\n\n\ndef test_f():\n    assert f(1) == 1\n",
        "failing/__init__.py": "", "failing/core.py": OK_CODE,
        "failing/tests/test_h.py": ("from failing.core import f\n\n\ndef test_bad():\n    assert f(1) == 2\n\n\n"
                                    "def test_good():\n    assert f(1) == 1\n"),
        "hanging/__init__.py": "", "hanging/core.py": OK_CODE,
        "hanging/tests/test_h.py": "import time\n\n\ndef test_forever():\n    time.sleep(120)\n",
        "empty/__init__.py": "", "empty/core.py": OK_CODE,  # no tests anywhere
        "broken/__init__.py": "raise ImportError('broken on purpose')\n", "broken/core.py": OK_CODE,
        "broken/tests/test_h.py": "from broken.core import f\n\n\ndef test_f():\n    assert f(1) == 1\n",
    }
    make_repo(root, {**modules, **(extra_modules or {})}, files={**files, **(extra_files or {})},
              pyproject="[tool.t4]\ntimeout = 3\n")
    return git_init(root)


@pytest.mark.slow
def test_bad_modules_are_recorded_with_their_status(tmp_path):
    root = status_repo(tmp_path / "repo")
    started = time.monotonic()
    # -n 2: the hanging module sleeps in one slot, the others run one at a time in the other, so
    # a loaded 2-core machine does not push a healthy module past the 3 s timeout
    code, executed, _, out = t4_run(root, "coverage", "-n", "2")
    elapsed = time.monotonic() - started
    assert code == 0, out  # observations, not pipeline failures
    assert len(executed) == 5
    assert elapsed < 60, "the hanging module was not cut off by the timeout"
    entries = latest(ledger_lines(root / LEDGER))
    assert {n: e["status"] for n, e in entries.items()} == {
        "healthy": "ok", "failing": "tests_failed", "hanging": "timeout", "empty": "no_tests",
        "broken": "crashed"}
    assert entries["healthy"]["coverage"] == 100.0
    assert entries["failing"]["tests"] == {"passed": 1, "failed": 1, "skipped": 0, "errors": 0}
    assert entries["failing"]["coverage"] == 100.0
    assert "assert" in entries["failing"]["detail"]
    assert entries["hanging"]["coverage"] is None and "3" in entries["hanging"]["detail"]
    assert entries["broken"]["coverage"] is None and "broken on purpose" in entries["broken"]["detail"]
    for name, entry in entries.items():
        block = observed_block(root, name)
        assert block["observed_digest"] == entry["input_digest"] and block["observed_at"] == entry["ts"]
        assert block["coverage_observed"] == entry["coverage"]
        assert json.loads((root / RESULTS / f"{name}.json").read_text())["status"] == entry["status"]


def test_why_a_run_did_not_pass_is_said_where_people_look(tmp_path):
    # the ledger's detail holds pytest's tail; the console line and the gate name its telling line
    root = status_repo(tmp_path / "repo", extra_modules={"noconf": manifest("noconf")},
                       extra_files={"noconf/__init__.py": "", "noconf/core.py": OK_CODE,
                                    "noconf/tests/conftest.py": "import nonexistent_mod_xyz\n",
                                    "noconf/tests/test_n.py": "def test_n():\n    assert True\n"})
    _, _, _, out = t4_run(root, "coverage:failing", "coverage:noconf", "coverage_gate")
    lines = [line for line in out.splitlines() if "coverage:noconf crashed" in line or "coverage:failing tests_failed" in line]
    assert any("No module named 'nonexistent_mod_xyz'" in line for line in lines), out
    assert any("FAILED" in line and "test_bad" in line for line in lines), out
    assert "last run did not pass: ModuleNotFoundError: No module named 'nonexistent_mod_xyz'" in out, out


def test_the_parent_says_which_nested_modules_tests_it_leaves_out(tmp_path):
    # a figure checked by hand needs them: ``pytest tests --ignore=tests/s0 ... --cov=pkg``
    subs = [f"s{i}" for i in range(6)]
    modules = {"pkg": manifest("pkg", layout={"paths": {"code": ".", "tests": "../tests"}}),
               **{f"pkg/{s}": manifest(f"pkg.{s}", layout={"paths": {"code": ".", "tests": f"../../tests/{s}"}})
                  for s in subs}}
    files = {"pkg/__init__.py": "", "tests/test_pkg.py": "import pkg\n\n\ndef test_pkg():\n    assert pkg\n",
             **{f"pkg/{s}/__init__.py": "" for s in subs},
             **{f"tests/{s}/test_{s}.py": f"def test_{s}():\n    assert True\n" for s in subs}}
    root = git_init(make_repo(tmp_path / "repo", modules, files=files))
    code, _, _, out = t4_run(root, "coverage:pkg")
    assert code == 0, out
    assert ("coverage:pkg: left out, as other modules' tests: tests/s0, tests/s1, tests/s2, tests/s3, "
            "tests/s4 and 1 more") in out, out
    assert latest(ledger_lines(root / LEDGER))["pkg"]["tests"]["passed"] == 1


def test_a_tests_folder_without_tests_is_recorded_as_no_tests(tmp_path):
    root = status_repo(tmp_path / "repo", extra_modules={"notests": manifest("notests")},
                       extra_files={"notests/__init__.py": "", "notests/core.py": OK_CODE,
                                    "notests/tests/helpers.py": "VALUE = 1\n"})
    code, _, _, out = t4_run(root, "coverage:notests", "coverage:healthy")
    entries = latest(ledger_lines(root / LEDGER))
    assert entries["healthy"]["status"] == "ok"
    assert "notests" in entries, out
    assert entries["notests"]["status"] == "no_tests"
    assert code == 0, out


# --------------------------------------------------------------------------------------------
# kill -9 at random moments


def kill_repo(root: Path) -> Path:
    files = {}
    for i in range(6):
        name = f"m{i}"
        body = "".join(f"def f{j}(x):\n    if x > {j}:\n        return {j}\n    return -{j}\n\n\n"
                       for j in range(i + 2))
        calls = "".join(f"    assert f{j}({j + 1}) == {j}\n" for j in range(0, i + 2, 2))
        files[f"{name}/__init__.py"] = ""
        files[f"{name}/core.py"] = body
        files[f"{name}/tests/test_core.py"] = f"from {name}.core import *\n\n\ndef test_some():\n{calls}"
    make_repo(root, {f"m{i}": manifest(f"m{i}") for i in range(6)}, files=files)
    return git_init(root)


@pytest.mark.slow
def test_kill_9_at_random_moments_then_a_normal_run_converges(tmp_path):
    root = kill_repo(tmp_path / "repo")
    reference = tmp_path / "reference"
    shutil.copytree(root, reference, symlinks=True)
    seed = int(os.environ.get("T4_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent)}
    env.pop("DOIT_CONFIG", None)

    try:
        for attempt in range(20):
            proc = subprocess.Popen(
                [sys.executable, "-m", "t4tasks.cli", "--root", str(root), "coverage", "-n", "2"],
                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            time.sleep(rng.uniform(0.2, 3.0))
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            kill_orphans(root)
            # after every kill: every manifest and ledger line still parses
            for i in range(6):
                read_manifest(root, f"m{i}")
            ledger_lines(root / LEDGER)
    finally:
        kill_orphans(root)

    code, executed, _, out = t4_run(root, "coverage", "-n", "2")
    assert code == 0, f"seed {seed}: {out}"
    code, executed, _, out = t4_run(reference, "coverage", "-n", "2")
    assert code == 0 and len(executed) == 6, out

    # every JSON file in the repository parses (manifests, per-module results, anything else)
    for path in root.rglob("*.json"):
        if ".git" not in path.relative_to(root).parts:
            json.loads(path.read_text(encoding="utf-8"))
    from t4tasks.ledgers import ledger
    problems: list = []
    entries = list(ledger.read(root / LEDGER, problems))
    assert problems == [], f"seed {seed}"
    assert ledger.verify_chain(root / LEDGER) == [], f"seed {seed}"
    counts = collections.Counter((e["module"], e["input_digest"]) for e in entries)
    assert max(counts.values()) == 1, f"seed {seed}: duplicates {counts}"

    got, want = latest(ledger_lines(root / LEDGER)), latest(ledger_lines(reference / LEDGER))
    assert sorted(got) == sorted(want) == [f"m{i}" for i in range(6)]
    for name in want:
        assert stable(got[name]) == stable(want[name]), f"seed {seed}: {name}"
        mine, theirs = observed_block(root, f"{name}"), observed_block(reference, f"{name}")
        assert mine["coverage_observed"] == theirs["coverage_observed"]
        assert mine["observed_digest"] == theirs["observed_digest"]
        assert mine["observed_at"] == got[name]["ts"], f"seed {seed}: manifest and ledger disagree"
        result = json.loads((root / RESULTS / f"{name}.json").read_text())
        assert {k: v for k, v in result.items() if k not in VOLATILE and k != "outcome"} == stable(got[name])

    # and the state converged: one more run measures nothing
    code, executed, _, out = t4_run(root, "coverage", "-n", "2")
    assert code == 0 and executed == [], out
