"""The host project's own pytest and coverage settings, as far as a measurement keeps them."""
# Tests run under the host's pytest configuration file (pythonpath, markers, plugins, asyncio mode,
# filterwarnings, conftest files all apply); only the ``addopts`` that break an isolated
# measurement are dropped (and named). Coverage keeps the host's exclusion and partial-branch rules
# and its branch setting, while T4 decides which files are the module's source.

from __future__ import annotations

import configparser
import os
import posixpath
import shlex
import tomllib
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path
from typing import Any

# addopts that break an isolated measurement: stopping early, parallel workers, a second
# coverage set-up, reordering by the last run, colour codes in the captured output
DROPPED_FLAGS = frozenset({
    "-x", "--exitfirst", "--lf", "--last-failed", "--ff", "--failed-first", "--nf", "--new-first",
    "--sw", "--stepwise", "--sw-skip", "--stepwise-skip", "--cov-branch", "--cov-append", "--no-cov",
    "--no-cov-on-fail", "--cov-reset", "--looponfail", "-f",
})
DROPPED_WITH_VALUE = frozenset({
    "-n", "--numprocesses", "--maxprocesses", "--dist", "--maxfail", "--color", "--code-highlight",
    "--cov-report", "--cov-config", "--cov-fail-under", "--cov-context",
})
BUNDLED = "xvqsl"  # pytest's one-letter switches that take no value and may be bundled: -xvs
# the coverage settings kept from the host: which lines and branches count, and whether branches do
COVERAGE_REPORT_KEYS = ("exclude_lines", "exclude_also", "partial_branches", "partial_also")


@dataclass(frozen=True)
class PytestOptions:
    config_file: str | None      # repo-relative host file pytest reads, None when there is none
    addopts: tuple[str, ...]     # the host's addopts T4 keeps
    dropped: tuple[str, ...]     # the host's addopts T4 removed
    broken: str | None = None    # a config file pytest could not read: T4 runs without it


class _Unreadable(Exception):
    """A pytest config file that does not parse (pytest itself would stop on it)."""


def pytest_options(root: Path, test_paths: tuple[str, ...]) -> PytestOptions:
    """The config file pytest picks for ``test_paths``, and its ``addopts`` split into kept and dropped."""
    try:
        found = _pytest_config(root, test_paths)  # upward from their common folder, as pytest does, to ``root``
    except _Unreadable as exc:
        return PytestOptions(None, (), (), str(exc))
    if found is None:
        return PytestOptions(None, (), ())
    path, addopts = found
    kept, dropped = split_addopts(addopts)
    return PytestOptions(path.relative_to(root).as_posix(), tuple(kept), tuple(dropped))


def config_args(root: Path, test_paths: tuple[str, ...], work: Path) -> list[str]:
    """pytest options that run ``test_paths`` under the host's config file, minus what breaks isolation."""
    options = pytest_options(root, test_paths)
    if options.broken:  # a file pytest cannot read: an empty ini of T4's instead (pytest would stop on it)
        (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        args = ["-c", str(work / "pytest.ini")]
    else:
        # pytest finds the host's file itself (from the test paths, as the host's own ``pytest`` does);
        # ``-o addopts`` replaces its addopts with the kept ones
        args = ["-o", f"addopts={shlex.join(options.addopts)}"]
    # no --import-mode of T4's: it decides the names tests import under, and so whether they pass
    return args


def removed_options(root: Path, test_paths: tuple[str, ...]) -> str | None:
    """What a run of ``test_paths`` leaves out of the host's pytest configuration; None when nothing."""
    options = pytest_options(root, test_paths)
    if options.broken:
        return f"the host's pytest configuration, which pytest cannot read ({options.broken})"
    if options.dropped:
        return f"from the host's addopts in {options.config_file}: {' '.join(options.dropped)}"
    return None


def split_addopts(args: list[str]) -> tuple[list[str], list[str]]:
    """``args`` without what breaks isolation (bundled short flags like ``-xvs`` are taken apart)."""
    kept: list[str] = []
    dropped: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        following = args[i + 1] if i + 1 < len(args) else None
        if name in DROPPED_FLAGS or name == "--cov":
            dropped.append(arg)
            # --cov takes an optional value: a following word that is not an option is its value
            if arg == "--cov" and following is not None and not following.startswith("-"):
                dropped.append(following)
                i += 1
        elif name in DROPPED_WITH_VALUE:
            dropped.append(arg)
            if "=" not in arg and following is not None:
                dropped.append(following)
                i += 1
        elif arg.startswith("-n") and not arg.startswith("--"):
            dropped.append(arg)  # -n4, -nauto
        elif len(arg) > 2 and arg[0] == "-" and set(arg[1:]) <= set(BUNDLED) and "x" in arg:
            dropped.append("-x")
            kept.append(arg.replace("x", ""))
        else:
            kept.append(arg)
        i += 1
    return kept, dropped


CONFIG_NAMES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")  # pytest's order


def _pytest_config(root: Path, test_paths: tuple[str, ...]) -> tuple[Path, list[str]] | None:
    folders = [p if (root / p).is_dir() else posixpath.dirname(p) or "." for p in test_paths] or ["."]
    common = os.path.commonpath([str(root / f) for f in folders])
    here = Path(common)
    while True:
        found = _config_in(str(here))
        if found is not None:
            return found
        if here == root or root not in here.parents:
            return None
        here = here.parent


def _config_in(folder: str) -> tuple[Path, list[str]] | None:
    """The pytest config file of ``folder`` itself and its addopts."""
    here = Path(folder)
    if (here / "pyproject.toml").is_file():
        _addopts_in(here / "pyproject.toml")  # pytest parses it wherever it looks: unreadable stops it
    for name in CONFIG_NAMES:
        found = _addopts_in(here / name)
        if found is not None:
            return here / name, found
    return None


def _addopts_in(path: Path) -> list[str] | None:
    """``addopts`` of a pytest config file; None when the file is not a pytest config file."""
    if not path.is_file():
        return None
    try:
        return _read_addopts(path)
    except (OSError, UnicodeDecodeError, ValueError, configparser.Error) as exc:
        raise _Unreadable(f"{path.name}: {exc}") from None


def _read_addopts(path: Path) -> list[str] | None:
    if path.suffix == ".toml":
        tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
        pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
        if not isinstance(pytest_table, dict):
            return None
        table = pytest_table.get("ini_options", pytest_table)
        value: Any = table.get("addopts", []) if isinstance(table, dict) else []
        return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
    parser = configparser.RawConfigParser()
    parser.read(path, encoding="utf-8")
    section = {"setup.cfg": "tool:pytest"}.get(path.name, "pytest")
    if path.name in ("pytest.ini", ".pytest.ini") and not parser.has_section(section):
        return []  # pytest.ini is pytest's file even when empty
    if not parser.has_section(section):
        return None
    return shlex.split(parser.get(section, "addopts", fallback=""))


def coverage_settings(root: Path) -> dict[str, Any]:
    """The host's ``branch`` and exclusion/partial-branch patterns, as coverage.py would read them."""
    # From the first file coverage.py would read: ``.coveragerc``, ``setup.cfg``, ``tox.ini``, then ``pyproject.toml``.
    for name, prefix in ((".coveragerc", ""), ("setup.cfg", "coverage:"), ("tox.ini", "coverage:")):
        path = root / name
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (UnicodeDecodeError, configparser.Error):
            continue
        if name != ".coveragerc" and not any(s.startswith(prefix) for s in parser.sections()):
            continue
        found: dict[str, Any] = {}
        if parser.has_option(prefix + "run", "branch"):
            found["branch"] = parser.get(prefix + "run", "branch").strip().lower() in ("1", "true", "yes", "on")
        for key in COVERAGE_REPORT_KEYS:
            if parser.has_option(prefix + "report", key):
                found[key] = [line.strip() for line in parser.get(prefix + "report", key).splitlines() if line.strip()]
        return found
    try:
        tool = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    coverage = tool.get("coverage") if isinstance(tool, dict) else None
    if not isinstance(coverage, dict):
        return {}
    found = {}
    run, report = coverage.get("run", {}), coverage.get("report", {})
    if isinstance(run, dict) and isinstance(run.get("branch"), bool):
        found["branch"] = run["branch"]
    for key in COVERAGE_REPORT_KEYS:
        value = report.get(key) if isinstance(report, dict) else None
        if isinstance(value, list):
            found[key] = [v for v in value if isinstance(v, str)]
    return found


def pytest_section(path: Path) -> Any:
    """The pytest settings a config file holds (its pytest table or section), for a key."""
    try:
        if path.suffix == ".toml":
            tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
            return tool.get("pytest") if isinstance(tool, dict) else None
        parser = configparser.RawConfigParser()
        parser.read(path, encoding="utf-8")
        section = {"setup.cfg": "tool:pytest"}.get(path.name, "pytest")
        return dict(parser.items(section)) if parser.has_section(section) else None
    except (OSError, UnicodeDecodeError, ValueError, configparser.Error) as exc:
        return f"unreadable: {exc}"


def settings_key(root: Path, test_paths: tuple[str, ...], remember: Callable[[tuple, Callable[[], Any]], Any],
                 listed: frozenset[str]) -> list:
    """What of the host's configuration a measurement of ``test_paths`` runs under."""
    folders = [posixpath.dirname(p) if p in listed else p for p in test_paths] or [""]
    here = posixpath.commonpath([f.strip("/") if f != "." else "" for f in folders])
    found = None
    # the gates ask for every module's key on every run: the walk reads git's listing, not the
    # disk, and ``remember`` keeps each folder's config and each parse once per run
    while found is None:
        prefix = f"{here}/" if here else ""
        if any(prefix + name in listed for name in CONFIG_NAMES):
            try:
                found = remember(("pytest-config", here), lambda: _config_in(str(root / here)))
            except _Unreadable as exc:
                found = (None, f"unreadable: {exc}")
        if not here:
            break
        here = posixpath.dirname(here)
    if found is None or found[0] is None:
        config_file, section = None, found[1] if found else None
    else:
        config_file = found[0].relative_to(root).as_posix()
        section = remember(("pytest-section", config_file), lambda: pytest_section(root / config_file))
    # the pytest settings of the file pytest picks and the coverage rules (a key part, not the whole file)
    return [config_file, section, remember(("coverage-settings",), lambda: coverage_settings(root))]
