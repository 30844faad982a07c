"""Tests for ``t4tasks.measure.coverage.measure``: real repositories, real pytest, real coverage.

Every test writes a small repository into ``tmp_path`` and measures it with a real subprocess.
Expected numbers come from outside T4: either a source file small enough to count by hand, or
coverage.py run directly on the same code.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import coverage as coveragepy
import pytest
import pytest_cov

from t4tasks.catalog.module import Module
from t4tasks.ledgers import records
from t4tasks.measure.coverage import measure

# 6 statements; a test calling sign(5) executes 4 of them (lines 1, 2, 3, 7) and 1 of the 2 arcs
# out of the ``if``, so coverage.py reports (4 + 1) / (6 + 2) = 62.5 %.
CALC = """\
def sign(x):
    if x > 0:
        return 1
    return -1


def unused():
    return 0
"""
CALC_EXPECTED = {
    "coverage": 66.67,  # the host measures no branches: the headline is the line figure
    "headline": "line",
    "line_pct": 66.67,
    "branch_pct": 50.0,
    "statements": 6,
    "covered_lines": 4,
    "branches": 2,
    "covered_branches": 1,
    "files": 2,  # pkg/__init__.py (empty) and pkg/calc.py; never the test files
}

# Test files carry statements of their own, so counting them would change every number above.
TEST_CALC = """\
from pkg.calc import sign


def helper():
    return 5


def test_positive():
    assert sign(helper()) == 1
"""


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Create ``files`` (repo-relative path → text) under ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def make_module(path: str, test_paths: tuple[str, ...]) -> Module:
    """A module whose code lives in its own folder, as discovery would build it."""
    return Module(
        name=path.replace("/", "."),
        path=path,
        manifest_path=f"{path}/module.manifest.json",
        lane=None,
        owner=None,
        description="",
        code_path=path,
        test_paths=test_paths,
    )


def numbers(result: dict) -> dict:
    """The measured numbers of a result, in the shape of ``CALC_EXPECTED``."""
    return {key: result[key] for key in CALC_EXPECTED}


@pytest.fixture(autouse=True)
def scratch_is_cleaned(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Route measure()'s temporary folders into a known place and check each one is removed."""
    scratch = tmp_path_factory.mktemp("scratch")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    "test_files, test_paths",
    [
        ({"pkg/tests/__init__.py": "", "pkg/tests/test_calc.py": TEST_CALC}, ("pkg/tests",)),
        ({"tests/pkg/test_calc.py": TEST_CALC}, ("tests/pkg",)),
        ({"pkg/test_calc.py": TEST_CALC}, ("pkg",)),  # tests side by side with the code
        ({"pkg/tests/test_calc.py": TEST_CALC}, ("pkg/tests/test_calc.py",)),  # a single file
    ],
    ids=["inside-module", "parallel-tree", "side-by-side", "single-file"],
)
def test_counts_own_source_only_in_every_layout(tmp_path: Path, test_files: dict, test_paths: tuple):
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/calc.py": CALC, **test_files})

    result = measure(tmp_path, make_module("pkg", test_paths), omit=[], timeout=60)

    assert result["status"] == "ok", result["detail"]
    assert numbers(result) == CALC_EXPECTED
    assert result["tests"] == {"passed": 1, "failed": 0, "skipped": 0, "errors": 0}
    assert result["detail"] is None
    assert 0 < result["duration_s"] < 60
    assert result["versions"] == {
        "python": platform.python_version(),
        "pytest": pytest.__version__,
        "coverage": coveragepy.__version__,
        "pytest_cov": pytest_cov.__version__,
    }


def test_matches_a_plain_coverage_run(tmp_path: Path):
    """A package with partial branches, a subpackage and a never-imported file."""
    write_tree(tmp_path, {
        "pkg/__init__.py": "from pkg.shapes import area\n",
        "pkg/shapes.py": """\
            import math


            def area(kind, size):
                if kind == "square":
                    return size * size
                elif kind == "circle":
                    return math.pi * size * size
                for _ in range(3):
                    if size < 0:
                        break
                raise ValueError(kind)
            """,
        "pkg/sub/__init__.py": "VALUE = 1\n",
        "pkg/sub/never.py": "def never():\n    return [i for i in range(3) if i]\n",
        "tests/pkg/test_shapes.py": """\
            import pytest
            from pkg import area


            def test_square():
                assert area("square", 3) == 9


            def test_unknown():
                with pytest.raises(ValueError):
                    area("hexagon", 1)
            """,
    })
    expected = plain_coverage_totals(tmp_path, source="pkg", tests="tests/pkg")

    result = measure(tmp_path, make_module("pkg", ("tests/pkg",)), omit=[], timeout=60, metric="branch")

    assert result["status"] == "ok", result["detail"]
    assert result["coverage"] == round(expected["totals"]["percent_covered"], 2)
    assert result["statements"] == expected["totals"]["num_statements"]
    assert result["covered_lines"] == expected["totals"]["covered_lines"]
    assert result["branches"] == expected["totals"]["num_branches"]
    assert result["covered_branches"] == expected["totals"]["covered_branches"]
    assert result["files"] == len(expected["files"]) == 4
    assert 0 < result["coverage"] < 100


def plain_coverage_totals(root: Path, *, source: str, tests: str) -> dict:
    """``coverage run --branch --source=... -m pytest`` then ``coverage json``, without T4."""
    data = root.parent / f"{root.name}.coverage"
    report = root.parent / f"{root.name}.coverage.json"
    environment = {**os.environ, "COVERAGE_FILE": str(data)}
    environment.pop("COVERAGE_PROCESS_START", None)
    environment.pop("COVERAGE_PROCESS_CONFIG", None)
    run = [sys.executable, "-m", "coverage", "run", "--branch", f"--source={source}",
           "-m", "pytest", tests, "-q", "-p", "no:cacheprovider"]
    subprocess.run(run, cwd=root, env=environment, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "coverage", "json", "-o", str(report)],
                   cwd=root, env=environment, check=True, capture_output=True)
    return json.loads(report.read_text())


def test_nested_modules_get_two_numbers(tmp_path: Path):
    """``a``'s code imports ``a.b``; ``a``'s number must still leave ``a/b`` out."""
    write_tree(tmp_path, {
        "a/__init__.py": "",
        # 3 statements, all executed by a's test.
        "a/core.py": """\
            from a.b.deep import twice

            def quad(x):
                return twice(twice(x))
            """,
        "a/tests/test_core.py": "from a.core import quad\n\ndef test_quad():\n    assert quad(1) == 4\n",
        "a/b/__init__.py": "",
        # 6 statements; b's test runs lines 1, 5, 6, 8 and 1 of the 2 arcs out of the ``if``:
        # (4 + 1) / (6 + 2) = 62.5 %.
        "a/b/deep.py": """\
            def twice(x):
                return 2 * x


            def half(x):
                if x % 2:
                    raise ValueError(x)
                return x // 2
            """,
        "a/b/tests/test_deep.py": "from a.b.deep import half\n\ndef test_half():\n    assert half(4) == 2\n",
    })

    outer = measure(tmp_path, make_module("a", ("a/tests",)), omit=["a/b"], timeout=60)
    inner = measure(tmp_path, make_module("a/b", ("a/b/tests",)), omit=[], timeout=60)

    assert outer["status"] == inner["status"] == "ok"
    assert (outer["coverage"], outer["statements"], outer["branches"], outer["files"]) == (100.0, 3, 0, 2)
    assert outer["branch_pct"] is None
    assert (inner["coverage"], inner["statements"], inner["covered_lines"], inner["files"]) == (66.67, 6, 4, 2)


def test_a_subprocess_started_elsewhere_counts_no_file_left_out(tmp_path: Path):
    # a test runs the code as a CLI would, from another folder: the nested module's code and the
    # test files stay out of the outer figure there too
    root = tmp_path / "repo"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_tree(root, {
        "a/__init__.py": "", "a/core.py": "def one():\n    return 1\n",
        "a/b/__init__.py": "", "a/b/deep.py": "def two():\n    return 2\n",
        "a/tests/helper.py": "X = 1\n",
        "a/tests/test_cli.py": f"""\
            import os, subprocess, sys

            def test_cli():
                code = "import a.core, a.b.deep, a.tests.helper; assert a.core.one() + a.b.deep.two() == 3"
                env = dict(os.environ, PYTHONPATH={str(root)!r})
                subprocess.run([sys.executable, "-c", code], cwd={str(elsewhere)!r}, env=env, check=True)
            """,
    })
    result = measure(root, make_module("a", ("a/tests",)), omit=["a/b"], timeout=60)
    assert result["status"] == "ok", result
    assert sorted(result["lines"]["files"]) == ["a/__init__.py", "a/core.py"]
    assert (result["coverage"], result["statements"]) == (100.0, 2)


@pytest.mark.parametrize("report", ["", "-rXs"])
def test_the_reason_names_the_failed_test_whatever_the_hosts_summary_shows(tmp_path: Path, report):
    # starlette's addopts ``-rXs`` replaces pytest's default ``-rfE``: no FAILED line is printed
    write_tree(tmp_path, {
        "pyproject.toml": f'[tool.pytest.ini_options]\naddopts = "{report}"\n',
        "pkg/__init__.py": "", "pkg/calc.py": CALC,
        "pkg/tests/test_calc.py": "from pkg.calc import sign\n\n\ndef test_sign():\n    assert sign(5) == 2\n",
    })
    result = measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=60)
    assert result["status"] == "tests_failed"
    reason = records.reason_of(result)
    assert reason.startswith("FAILED ") and "test_sign" in reason and "assert 1 == 2" in reason, result["detail"]


def test_failing_tests_are_recorded_with_counts_and_coverage(tmp_path: Path):
    """The failure comes first: with ``-x`` the later tests would not run and no report would exist."""
    write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/calc.py": CALC,
        "pkg/tests/test_calc.py": """\
            import pytest
            from pkg.calc import sign


            @pytest.fixture
            def broken():
                raise RuntimeError("fixture setup fails")


            def test_fails_first():
                assert sign(5) == -1


            def test_positive():
                assert sign(5) == 1


            def test_positive_again():
                assert sign(3) == 1


            @pytest.mark.skip(reason="not today")
            def test_skipped():
                assert sign(-1) == -1


            def test_with_broken_fixture(broken):
                pass
            """,
    })

    result = measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=60)

    assert result["status"] == "tests_failed"
    assert result["tests"] == {"passed": 2, "failed": 1, "skipped": 1, "errors": 1}
    assert numbers(result) == CALC_EXPECTED
    assert "1 failed" in result["detail"]


def test_expected_failures_are_counted_apart_from_skips(tmp_path: Path):
    write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/tests/test_marks.py": """\
            import pytest


            def test_passes():
                pass


            @pytest.mark.skip(reason="not today")
            def test_skipped():
                pass


            @pytest.mark.xfail(reason="known bug")
            def test_known_bug():
                assert False
            """,
    })
    result = measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=60)
    assert result["status"] == "ok"
    assert result["tests"] == {"passed": 1, "failed": 0, "skipped": 1, "errors": 0, "xfailed": 1}


HANGING_TEST = """\
import pathlib, subprocess, sys, time


def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    pathlib.Path("child.pid").write_text(str(child.pid))
    time.sleep(300)
"""


def test_hanging_tests_time_out_and_the_process_group_dies(tmp_path: Path):
    """The hanging test also starts a grandchild, which must not survive the measurement."""
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/tests/test_hang.py": HANGING_TEST})

    started = time.monotonic()
    result = measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=3)
    elapsed = time.monotonic() - started

    assert result["status"] == "timeout"
    assert "3 s" in result["detail"]
    assert result["coverage"] is None and result["tests"] is None
    assert 3 <= result["duration_s"] and elapsed < 15
    grandchild = int((tmp_path / "child.pid").read_text())
    assert wait_until_gone(grandchild, seconds=5)


def test_interrupting_the_measurement_kills_the_process_group(tmp_path: Path):
    """The child runs in its own session, so Ctrl-C never reaches it: measure() must kill it."""
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/tests/test_hang.py": HANGING_TEST})
    pid_file = tmp_path / "child.pid"

    def interrupt_once_the_grandchild_runs(signum: int, frame: object) -> None:
        if not pid_file.exists():
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt_once_the_grandchild_runs)
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    try:
        with pytest.raises(KeyboardInterrupt):
            measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert wait_until_gone(int(pid_file.read_text()), seconds=5)


def wait_until_gone(pid: int, *, seconds: float) -> bool:
    """Whether ``pid`` stops running within ``seconds`` (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False


def test_no_tests(tmp_path: Path):
    write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/calc.py": CALC,
        "pkg/tests/test_calc.py": "def helper():\n    return 1\n",
    })

    collected_nothing = measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=60)
    declared_nothing = measure(tmp_path, make_module("pkg", ()), omit=[], timeout=60)

    assert collected_nothing["status"] == "no_tests"
    assert collected_nothing["tests"] == {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
    assert declared_nothing["status"] == "no_tests"
    assert declared_nothing["coverage"] is None and declared_nothing["tests"] is None


@pytest.mark.parametrize(
    "files, reason",
    [
        ({"pkg/__init__.py": "import t4_missing_dependency\n", "pkg/tests/test_calc.py": TEST_CALC},
         "t4_missing_dependency"),
        ({"pkg/__init__.py": "", "pkg/tests/test_calc.py": TEST_CALC + "    import os\n    os._exit(0)\n"},
         "exit code 0"),
    ],
    ids=["import-error", "process-exits-mid-run"],
)
def test_crashes(tmp_path: Path, files: dict, reason: str):
    write_tree(tmp_path, {"pkg/calc.py": CALC, **files})

    result = measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=60)

    assert result["status"] == "crashed"
    assert reason in result["detail"]
    assert result["coverage"] is None


def test_host_configuration_neither_breaks_nor_skews(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Every config file pytest or coverage.py would read is broken or hostile, and so is the env."""
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.pytest.ini_options\naddopts = = '-x'\n",
        "pytest.ini": "[pytest]\naddopts = -x --cov=elsewhere\n",
        "setup.cfg": "[tool:pytest\naddopts = -x\n",
        "tox.ini": "[pytest]\naddopts = --cov-fail-under=100 -x\n",
        ".coveragerc": "[run]\nbranch = maybe\nsource = elsewhere\n[report]\nfail_under = 100\n",
        "elsewhere/__init__.py": "A = 1\nB = 2\n",
        "pkg/__init__.py": "",
        "pkg/calc.py": CALC,
        "pkg/tests/test_calc.py": """\
            from pkg.calc import sign


            def test_fails_first():
                assert sign(5) == -1


            def test_positive():
                assert sign(5) == 1
            """,
    })
    monkeypatch.setenv("PYTEST_ADDOPTS", "-x --cov=elsewhere")

    result = measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=60)

    assert result["status"] == "tests_failed", result["detail"]
    assert result["tests"] == {"passed": 1, "failed": 1, "skipped": 0, "errors": 0}
    assert numbers(result) == CALC_EXPECTED
