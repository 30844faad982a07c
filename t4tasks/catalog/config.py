"""``[tool.t4]`` in the target repository's ``pyproject.toml``: defaults, validation, digest."""
# Every setting has a default that works for the common layouts (tests inside the module or in a
# parallel ``tests/`` tree), so a repository without ``[tool.t4]`` needs no configuration. An
# unknown key or a wrong type is an error that names the key: a typo must never be ignored.

from __future__ import annotations

import hashlib
import math
import re
import sys
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

DEFAULT_LANE_TARGETS = {"L0": 70.0, "L1": 75.0, "L2": 80.0, "L3": 85.0, "L4": 90.0, "L5": 90.0}


class ConfigError(Exception):
    """A ``[tool.t4]`` setting is unknown or has the wrong type."""


@dataclass(frozen=True)
class Config:
    # gitignore-style patterns of manifest files, relative to the root
    manifest_globs: tuple[str, ...] = ("**/module.manifest.json",)
    # gitignore-style patterns of paths never to treat as modules
    exclude: tuple[str, ...] = ()
    # where a module's tests live when its manifest has no layout.paths.tests;
    # {path} = the module folder, {name} = the module name, {name_path} = name with dots as "/"
    test_patterns: tuple[str, ...] = (
        "{path}/tests",
        "tests/{path}",
        "tests/{name_path}",
        "tests/test_{name}",
        "tests/test_{name}.py",
    )
    # where a module's pytest-benchmark benchmarks live
    bench_patterns: tuple[str, ...] = (
        "{path}/tests/benchmarks",
        "{path}/benchmarks",
        "benchmarks/{name}",
    )
    # coverage target (percent) per lane
    lanes: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LANE_TARGETS))
    # the lane whose target applies to a manifest that names no lane ("none": no target then)
    default_lane: str = "L2"
    # the coverage headline: "line", "branch" (lines and branches together, as coverage.py reports
    # them) or "auto": whatever the host's coverage configuration measures ([run] branch)
    coverage_metric: str = "auto"
    # extra pytest arguments for every measurement run, e.g. ["-m", "not slow"]
    pytest_args: tuple[str, ...] = ()
    # seconds one module's measurement may take before it is recorded as a timeout
    timeout: float = 600.0
    # relative slowdown (0.10 = 10 %) that, when significant, counts as a benchmark regression
    bench_regression_threshold: float = 0.10
    # files whose change marks every module changed (for --changed-since)
    # the host's pytest and coverage configuration shapes every measurement
    shared_files: tuple[str, ...] = ("conftest.py", "pyproject.toml", "pytest.ini", ".coveragerc", "setup.cfg",
                                     "tox.ini")
    # docs every module must have (relative to the module folder; with a placeholder, relative to
    # the root: "doc/reference/{name_path}.rst"); they earn the docs points
    required_docs: tuple[str, ...] = ("README.md",)
    # a module's docs kept outside its folder (relative to the root), also read for its summary
    doc_patterns: tuple[str, ...] = ("docs/{name}.md", "docs/{name}.rst", "doc/reference/{name_path}.rst")
    # output folders, relative to the root
    generated_dir: str = "docs/_generated"
    ledger_dir: str = "manifests/.ledger"
    trends_dir: str = "trends"
    state_dir: str = ".t4"

    def digest(self) -> str:
        """A stable hash of every setting: tasks rerun when configuration changes."""
        cached = self.__dict__.get("_digest")
        if cached is None:  # computed once: every task's up-to-date check asks for it
            cached = hashlib.sha256(orjson.dumps(asdict(self), option=orjson.OPT_SORT_KEYS)).hexdigest()
            object.__setattr__(self, "_digest", cached)
        return cached


_FIELDS = {f.name: f for f in fields(Config)}
CHOICES = {"coverage_metric": ("auto", "line", "branch"), "default_lane": (*DEFAULT_LANE_TARGETS, "none")}


def _check_type(key: str, value: Any, default: Any) -> Any:
    """Coerce ``value`` to the type of the default, or raise ConfigError naming the key."""
    where = f"tool.t4.{key}"
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        if key.endswith("_patterns") or key == "required_docs":
            for pattern in value:
                try:
                    pattern.format(path="p", name="n", name_path="n")
                except (KeyError, IndexError, ValueError) as exc:
                    raise ConfigError(f"{where}: {pattern!r}: unknown placeholder {exc}; "
                                      "use {path}, {name} or {name_path}") from None
        return tuple(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of lane = percent, got {value!r}")
        merged = dict(default)
        for lane, target in value.items():
            if lane not in DEFAULT_LANE_TARGETS:
                raise ConfigError(f"{where}.{lane}: unknown lane (known: {', '.join(DEFAULT_LANE_TARGETS)})")
            if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 <= target <= 100:
                raise ConfigError(f"{where}.{lane}: expected a percentage 0-100, got {target!r}")
            merged[lane] = float(target)
        return merged
    if isinstance(default, float):
        # nan compares false with everything: "<= 0" alone would let it through (and nan seconds
        # turns the timeout off)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{where}: expected a finite positive number, got {value!r}")
        return float(value)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(CHOICES[key])}")
    if key.endswith("_dir") and (not is_inside(value) or PurePosixPath(value) == PurePosixPath(".")):
        raise ConfigError(f"{where}: {value!r} must be a folder inside the repository (not its root)")
    return value


def module_doc_path(module_path: str, name: str, doc: str) -> str | None:
    """Repo-relative path of a doc of module ``name``, or None if it leaves the root."""
    if "{" in doc:  # with a placeholder ({path}, {name}, {name_path}): relative to the root
        relpath = doc.format(path=module_path, name=name, name_path=name.replace(".", "/"))
    else:  # relative to the module folder
        relpath = doc if module_path in ("", ".") else f"{module_path}/{doc}"
    relpath = str(PurePosixPath(relpath))
    return relpath if is_inside(relpath) else None


def is_inside(relpath: str) -> bool:
    """True when a relative path cannot leave the root lexically (no absolute path, no '..')."""
    path = PurePosixPath(relpath.replace("\\", "/"))
    return not path.is_absolute() and ".." not in path.parts and not re.match(r"^[A-Za-z]:", relpath)


def from_mapping(table: dict[str, Any]) -> Config:
    """Build a Config from a ``[tool.t4]`` table, rejecting unknown keys and wrong types."""
    values: dict[str, Any] = {}
    defaults = Config()
    for key, value in table.items():
        if key not in _FIELDS:
            known = ", ".join(sorted(_FIELDS))
            raise ConfigError(f"tool.t4.{key}: unknown setting (known: {known})")
        values[key] = _check_type(key, value, getattr(defaults, key))
    return Config(**values)


def load(root: Path) -> Config:
    """Read ``[tool.t4]`` from ``root/pyproject.toml``; defaults when the file or table is absent."""
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    # a ``pyproject.toml`` that is not valid TOML must not stop T4 (the repository's own build may be
    # broken while its modules are still measurable): warn, naming the file, and use the defaults
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        print(f"t4: warning: {path.name}: not valid TOML ({exc}); using default [tool.t4] settings",
              file=sys.stderr)
        return Config()
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path.name}: tool: expected a table, got {tool!r}")
    table = tool.get("t4", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path.name}: tool.t4: expected a table")
    try:  # errors inside ``[tool.t4]`` itself are raised, prefixed with the file name
        return from_mapping(table)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
