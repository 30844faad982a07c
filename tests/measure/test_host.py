"""The host project's own pytest and coverage rules apply to a measurement (``measure/host.py``)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from t4tasks.measure import host
from t4tasks.measure.coverage import measure

from tests.measure.test_coverage import make_module, write_tree

CODE = """\
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import collections


def sign(x):
    if x > 0:
        return 1
    return -1


def __repr__():
    return "never called"
"""
TESTS = "import warnings\n\nfrom pkg.core import sign\n\n\ndef test_sign():\n    warnings.warn('old api', DeprecationWarning)\n    assert sign(2) == 1\n"


@pytest.mark.parametrize("addopts, kept, dropped", [
    (["-x", "-ra", "--strict-markers"], ["-ra", "--strict-markers"], ["-x"]),
    (["-n", "4", "--dist", "loadfile", "-p", "no:warnings"], ["-p", "no:warnings"], ["-n", "4", "--dist", "loadfile"]),
    (["-nauto", "--cov=pkg", "--cov", "src", "--cov-report", "term", "--cov-branch"], [],
     ["-nauto", "--cov=pkg", "--cov", "src", "--cov-report", "term", "--cov-branch"]),
    (["-xvs", "--lf", "--ff", "--color=yes", "--maxfail=2", "-rxX"], ["-vs", "-rxX"],
     ["-x", "--lf", "--ff", "--color=yes", "--maxfail=2"]),
])
def test_only_what_breaks_an_isolated_run_is_dropped(addopts, kept, dropped):
    assert host.split_addopts(addopts) == (kept, dropped)


def plain_pytest(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "COVERAGE_PROCESS_START")}
    return subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-q"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("filterwarnings, status", [("error", "tests_failed"), ("ignore::DeprecationWarning", "ok")])
def test_a_module_passes_under_t4_exactly_when_plain_pytest_passes(tmp_path, filterwarnings, status):
    write_tree(tmp_path, {"pyproject.toml": f'[tool.pytest.ini_options]\naddopts = "-x"\nfilterwarnings = ["{filterwarnings}"]\n',
                          "pkg/__init__.py": "", "pkg/core.py": CODE, "pkg/tests/test_core.py": TESTS})
    plain = plain_pytest(tmp_path, "pkg/tests")
    result = measure(tmp_path, make_module("pkg", ("pkg/tests",)), omit=[], timeout=60)
    assert result["status"] == status, result["detail"]
    assert (plain.returncode == 0) == (status == "ok"), plain.stdout


NAME_OF = "def name_of(cls):\n    return f'{cls.__module__}.{cls.__qualname__}'\n"
NAMED_TEST = "from pkg import name_of\n\n\nclass Thing:\n    pass\n\n\ndef test_name():\n    assert name_of(Thing) == 'test_pkg.Thing'\n"


@pytest.mark.slow
@pytest.mark.parametrize("addopts, status", [("", "ok"), ("--import-mode=importlib", "tests_failed")])
def test_tests_import_as_the_host_imports_them(tmp_path, addopts, status):
    # pytest's import mode decides a test module's name (click's own tests depend on it): T4 adds none
    write_tree(tmp_path, {"pyproject.toml": f'[tool.pytest.ini_options]\npythonpath = ["src"]\naddopts = "{addopts}"\n',
                          "src/pkg/__init__.py": NAME_OF, "tests/test_pkg.py": NAMED_TEST})
    plain = plain_pytest(tmp_path, "tests")
    result = measure(tmp_path, dataclasses.replace(make_module("src/pkg", ("tests",)), name="pkg"), omit=[], timeout=60)
    assert result["status"] == status, result["detail"]
    assert (plain.returncode == 0) == (status == "ok"), plain.stdout


@pytest.mark.parametrize("rc_name, rc_text", [
    (".coveragerc", "[run]\nbranch = True\n[report]\nexclude_also =\n    if TYPE_CHECKING:\n    def __repr__\n"),
    ("pyproject.toml", '[tool.coverage.run]\nbranch = true\n[tool.coverage.report]\n'
                       'exclude_also = ["if TYPE_CHECKING:", "def __repr__"]\n'),
    ("setup.cfg", "[coverage:run]\nbranch = True\n[coverage:report]\nexclude_also =\n    if TYPE_CHECKING:\n    def __repr__\n"),
])
def test_the_headline_is_what_pytest_cov_says_under_the_hosts_coverage_rules(tmp_path, rc_name, rc_text):
    # tests in a parallel tree: plain `pytest --cov=pkg` then measures the same files T4 does
    write_tree(tmp_path, {rc_name: rc_text, "pkg/__init__.py": "", "pkg/core.py": CODE,
                          "tests/test_core.py": TESTS})
    report = tmp_path.parent / f"{tmp_path.name}-plain.json"
    plain = plain_pytest(tmp_path, "tests", "--cov=pkg", f"--cov-report=json:{report}")
    assert plain.returncode == 0, plain.stdout
    totals = json.loads(report.read_text())["totals"]
    assert totals["excluded_lines"] > 0 and totals["num_branches"] > 0

    result = measure(tmp_path, make_module("pkg", ("tests",)), omit=[], timeout=60)
    assert result["status"] == "ok", result["detail"]
    assert result["headline"] == "branch"
    assert abs(result["coverage"] - totals["percent_covered"]) < 0.1
    assert (result["statements"], result["branches"]) == (totals["num_statements"], totals["num_branches"])
    line_only = measure(tmp_path, make_module("pkg", ("tests",)), omit=[], timeout=60, metric="line")
    assert line_only["headline"] == "line" and line_only["coverage"] == line_only["line_pct"]
