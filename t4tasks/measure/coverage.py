"""Measure one module's coverage in isolation: its own tests, its own source files, nothing else."""
# Each measurement is a fresh ``python -m pytest --cov`` subprocess, run from the repository root,
# that writes into a fresh temporary folder, so a stale report can never be read back and parallel
# measurements never share a data file. The tests run the way the project runs them: under the
# host's own pytest configuration file, minus the ``addopts`` that break an isolated run (see
# ``host``). Coverage keeps the host's exclusion and partial-branch rules; T4 decides the source:
# the module's code without test files (``tests``/``test`` folders, ``test_*.py``, ``*_test.py``,
# ``conftest.py``) and without any nested module that has a manifest of its own. Branches are
# always measured; the headline (``coverage``) is coverage.py's combined figure when the host
# measures branches, its line figure otherwise (``[tool.t4] coverage_metric`` chooses explicitly).
#
# A failing, hanging or crashing module is an observation, not an error: ``measure`` always returns
# a result whose ``status`` says what happened, so one bad module never blocks the others.

from __future__ import annotations

import functools
import importlib.util
import json
import os
import platform
import re
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import orjson

from t4tasks.catalog.module import Module
from t4tasks.console import progress
from t4tasks.measure import children, host, launch, lines, session, session_progress

# Environment variables that would let the caller's setup leak into the measured run:
# PYTEST_ADDOPTS injects options (``-x`` would suppress the report), and the COVERAGE_PROCESS_*
# pair makes coverage's .pth hook start a second, competing tracer in the child.
FOREIGN_ENVIRONMENT = ("PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")

# pytest's exit codes that mean the run finished; anything else (interrupted by collection errors,
# internal error, usage error, killed by a signal) is a crash.
EXIT_STATUS = {0: "ok", 1: "tests_failed", 5: "no_tests"}

# File names pytest collects or loads from a test folder, used when the tests live side by side
# with the code (a test path that contains the code path), where omitting the folder would omit
# the code too.
TEST_FILE_PATTERNS = ("test_*.py", "*_test.py", "conftest.py")
# Never a module's source, wherever they sit inside its code folder.
TEST_SOURCE_PATTERNS = ("tests/*", "test/*", *TEST_FILE_PATTERNS)
METRICS = ("auto", "line", "branch")

DETAIL_LINES = 12


def measure(root: Path, module: Module, *, omit: list[str], timeout: float,
            extra_args: tuple[str, ...] = (), metric: str = "auto") -> dict[str, Any]:
    """Run ``module``'s tests under coverage and return what was observed."""
    started = time.monotonic()
    if not module.test_paths:
        return _result("no_tests", started, detail="the module declares no test paths")
    # a test run may delete this folder: cleaning up what is left must not fail the measurement
    with tempfile.TemporaryDirectory(prefix="t4-coverage-", ignore_cleanup_errors=True) as scratch:
        work = Path(scratch)
        settings = host.coverage_settings(Path(root))
        # ``omit``: repo-relative folders left out of the percentage, the nested modules that have their own
        # manifest, so ``a/`` and ``a/b/`` get two honest numbers; ``extra_args``: ``[tool.t4] pytest_args``
        command = [*_pytest_command(Path(root), module, omit, work, settings), *session.install(work, root),
                   *session_progress.ARGS, *extra_args]
        try:  # ``timeout`` in seconds: on expiry the whole process group is killed
            exit_code = _run(command, Path(root), work, timeout, f"coverage:{module.name}")
        except OSError as exc:  # the scratch folder vanished before the run could start
            return _result("crashed", started, detail=f"T4's scratch folder is gone: {exc}")
        if exit_code is None:
            return _result("timeout", started, detail=f"timed out after {timeout:g} s")
        imports = session.imported(work)
        junit = _parse_junit(work / "junit.xml")
        tests = _read_junit(junit)
        # without the session-end file (or the JUnit file) the process died mid-run (a test
        # called os._exit, a signal, the scratch folder deleted), whatever its exit code says
        ended = tests is not None and imports is not None
        status = EXIT_STATUS.get(exit_code, "crashed") if ended else "crashed"
        # pytest-cov writes its report only at the end of a session that was not interrupted.
        report_path = work / "coverage.json"
        # with no tests run, coverage.py reports an empty 100 %: that is not an observation
        totals = _read_totals(report_path) if report_path.exists() and status not in ("no_tests", "crashed") else {}
        headline = headline_metric(metric, settings)  # ``line``, ``branch``, or ``auto`` (the host's branch setting)
        if totals and headline == "line" and totals["line_pct"] is not None:
            totals["coverage"] = totals["line_pct"]
        detail = None if status == "ok" else _output_tail(work, exit_code, junit)
        note = launch.shadow_note(module.code_path) if detail else None
        detail = f"{note}\n{detail}" if note else detail
        result = _result(status, started, tests=tests, detail=detail, headline=headline, imports=imports or [],
                         **totals)
        if totals:  # the per-line data patch coverage reads (see lines)
            result[lines.RESULT_KEY] = lines.from_report(orjson.loads(report_path.read_bytes()), Path(root))
        return result


def headline_metric(metric: str, settings: dict[str, Any]) -> str:
    """``line`` or ``branch``: the configured metric, or with ``auto`` the host's branch setting."""
    if metric in ("line", "branch"):
        return metric
    return "branch" if settings.get("branch") else "line"


def _pytest_command(root: Path, module: Module, omit: list[str], work: Path,
                    settings: dict[str, Any]) -> list[str]:
    """The pytest command line: the host's config with its kept ``addopts``, and T4's coverage config."""
    coveragerc = work / "coverage.toml"  # TOML: a string can hold any character a folder name has
    coveragerc.write_text(_coveragerc(root, module, omit, settings), encoding="utf-8")
    # ``-x`` is never passed: with ``-x`` and a failing test pytest-cov writes no report
    command = [
        *launch.pytest_command(root), *module.test_paths, *host.config_args(root, module.test_paths, work),
        # ``--rootdir`` and ``--confcutdir`` keep node ids and conftest discovery anchored to the repository
        "-o", "junit_family=xunit2", f"--rootdir={root}", f"--confcutdir={root}",
        f"--cov={root / module.code_path}", f"--cov-config={coveragerc}",
        f"--cov-report=json:{work / 'coverage.json'}", "--cov-report=",
        f"--junitxml={work / 'junit.xml'}",
        "-p", "no:cacheprovider", "-q",
    ]
    if importlib.util.find_spec("pytest_benchmark") is not None:
        command.append("--benchmark-disable")
    return command


def _coveragerc(root: Path, module: Module, omit: list[str], settings: dict[str, Any] | None = None) -> str:
    """The coverage config: branch coverage, the host's report rules, and the files not the module's own."""
    # A trailing ``/*`` matches everything below a folder, ``**/`` any folders between.
    patterns = [f"{glob_literal(folder)}/*" for folder in omit]
    code = "" if module.code_path == "." else glob_literal(module.code_path) + "/"
    patterns += [f"{code}**/{name}" for name in TEST_SOURCE_PATTERNS]
    for test_path in module.test_paths:
        if not (root / test_path).is_dir():
            patterns.append(glob_literal(test_path))
        elif _contains(test_path, module.code_path):
            patterns.extend(f"{glob_literal(test_path)}/**/{name}" for name in TEST_FILE_PATTERNS)
        else:
            patterns.append(f"{glob_literal(test_path)}/*")
    # Anchored at the root: coverage.py resolves a relative pattern against the working directory
    # of each measured process, and a subprocess that a test starts elsewhere would trace them all.
    anchor = glob_literal(str(root.resolve())) + "/"
    omit_lines = "".join(f"    {_toml_string(anchor + pattern)},\n" for pattern in patterns)
    # ``patch = subprocess`` measures Python subprocesses the tests start (a CLI run by its tests is
    # covered code, not a blind spot)
    return (f'[tool.coverage.run]\nbranch = true\npatch = ["subprocess"]\nomit = [\n{omit_lines}]\n'
            + _report_table(settings or {}))


def _toml_string(value: str) -> str:
    # a JSON string is a TOML basic string; coverage.py expands $VAR in values, "$$" is a "$"
    return json.dumps(value.replace("$", "$$"))


def _report_table(settings: dict[str, Any]) -> str:
    """The host's exclusion and partial-branch rules as a ``[tool.coverage.report]`` table."""
    rows = [f"{key} = [{', '.join(_toml_string(p) for p in settings[key])}]\n"
            for key in host.COVERAGE_REPORT_KEYS if settings.get(key)]
    return "[tool.coverage.report]\n" + "".join(rows) if rows else ""


def glob_literal(path: str) -> str:
    """``path`` as a coverage.py glob that matches only itself: wildcards and brackets quoted."""
    return re.sub(r"[*?\[\]]", lambda m: f"[{m[0]}]", path)


def _contains(folder: str, path: str) -> bool:
    """Whether repo-relative ``path`` is ``folder`` or lies inside it ("." is the root)."""
    return folder in (".", path) or path.startswith(folder.rstrip("/") + "/")


def _run(command: list[str], root: Path, work: Path, timeout: float, label: str) -> int | None:
    """Run ``command`` (see ``children.run``); return its exit code, or None on timeout."""
    environment = {key: value for key, value in os.environ.items() if key not in FOREIGN_ENVIRONMENT}
    environment["COVERAGE_FILE"] = str(work / ".coverage")
    environment["PYTHONPATH"] = session.python_path(work, environment)
    environment[session_progress.ENV] = str(work / "progress.json")
    tick = progress.ticker(label, environment[session_progress.ENV])
    with open(work / "stdout.txt", "wb") as stdout, open(work / "stderr.txt", "wb") as stderr:
        # on timeout (or if we are interrupted) the whole process group is killed: tests that spawn
        # servers or workers must not outlive the measurement
        return children.run(command, cwd=root, env=environment, timeout=timeout, stdout=stdout, stderr=stderr,
                            tick=tick)


def _parse_junit(path: Path) -> ElementTree.Element | None:
    """pytest's JUnit XML, or None when pytest wrote none (or not all of it)."""
    try:
        return ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return None


def _read_junit(junit: ElementTree.Element | None) -> dict[str, int] | None:
    """Outcome counts from pytest's JUnit XML, or None when pytest wrote none."""
    if junit is None:
        return None
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in junit.iter("testsuite"):
        for key in counts:
            counts[key] += int(suite.get(key, 0))
    failed, errors, skipped = counts["failures"], counts["errors"], counts["skipped"]
    # JUnit counts every test case once: ``tests`` includes failures, errors (setup/teardown and
    # collection errors) and skips, so the rest passed
    passed = counts["tests"] - failed - errors - skipped
    outcomes = {"passed": passed, "failed": failed, "skipped": skipped, "errors": errors}
    # JUnit files an expected failure as a skip; pytest's summary counts it apart, and so does T4
    xfailed = sum(1 for element in junit.iter("skipped") if element.get("type") == "pytest.xfail")
    if xfailed:
        outcomes["skipped"] -= xfailed
        outcomes["xfailed"] = xfailed
    return outcomes


def _read_totals(path: Path) -> dict[str, Any]:
    """The numbers from coverage.py's JSON report totals."""
    report = orjson.loads(path.read_bytes())
    totals = report["totals"]
    statements, covered_lines = totals["num_statements"], totals["covered_lines"]
    # coverage.py leaves the branch counts out when no data was collected at all (no tests ran)
    branches, covered_branches = totals.get("num_branches", 0), totals.get("covered_branches", 0)
    return {
        # coverage.py's own total (lines and branches together); line and branch % come from the same counts
        "coverage": round(totals["percent_covered"], 2),
        "line_pct": _percent(covered_lines, statements),
        "branch_pct": _percent(covered_branches, branches),
        "statements": statements,
        "covered_lines": covered_lines,
        "branches": branches,
        "covered_branches": covered_branches,
        "files": len(report["files"]),
    }


def _percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, rounded to 2 places; None when there is nothing to count."""
    return round(100 * part / whole, 2) if whole else None


def _output_tail(work: Path, exit_code: int, junit: ElementTree.Element | None) -> str:
    """A short reason for a non-ok run: the exit code and the last lines pytest printed."""
    lines = [f"pytest exit code {exit_code}"]
    for name in ("stdout.txt", "stderr.txt"):
        try:
            text = (work / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        lines.extend(line for line in text.splitlines()[-DETAIL_LINES:] if line.strip())
    # a host's own ``-r`` (starlette's ``-rXs``) can leave pytest's summary without the failed test
    if not any(line.startswith(("FAILED ", "ERROR ")) for line in lines):
        failure = _first_failure(junit)
        if failure:
            lines.insert(1, failure)
    return "\n".join(lines)


def _first_failure(junit: ElementTree.Element | None) -> str | None:
    """The first failed or erroring test in pytest's JUnit XML, named as pytest's summary would."""
    for case in junit.iter("testcase") if junit is not None else ():
        for tag, word in (("failure", "FAILED"), ("error", "ERROR")):
            problem = case.find(tag)
            if problem is not None:
                where = "::".join(part for part in (case.get("classname"), case.get("name")) if part)
                message = (problem.get("message") or "").strip().splitlines()
                return f"{word} {where}" + (f" - {message[0]}" if message else "")
    return None


def _result(
    status: str,
    started: float,
    *,
    tests: dict[str, int] | None = None,
    detail: str | None = None,
    headline: str | None = None,
    coverage: float | None = None,
    line_pct: float | None = None,
    branch_pct: float | None = None,
    statements: int | None = None,
    covered_lines: int | None = None,
    branches: int | None = None,
    covered_branches: int | None = None,
    files: int | None = None,
    imports: list[str] | None = None,
) -> dict[str, Any]:
    """One result shape for every outcome; numbers that were not measured are None."""
    return {
        "status": status,
        "coverage": coverage,
        "headline": headline,
        "line_pct": line_pct,
        "branch_pct": branch_pct,
        "statements": statements,
        "covered_lines": covered_lines,
        "branches": branches,
        "covered_branches": covered_branches,
        "files": files,
        "tests": tests,
        "duration_s": round(time.monotonic() - started, 3),
        "versions": tool_versions(),
        "detail": detail,
        "imports": imports or [],
    }


@functools.cache
def tool_versions() -> dict[str, str]:
    """Versions of the tools that produced the numbers (the child runs this same interpreter)."""
    import importlib.metadata  # on first measurement only: it costs start-up time

    return {
        "python": platform.python_version(),
        "pytest": importlib.metadata.version("pytest"),
        "coverage": importlib.metadata.version("coverage"),
        "pytest_cov": importlib.metadata.version("pytest-cov"),
    }
