"""Read, validate and normalise ``module.manifest.json`` files."""
# Reading never raises: every problem (bad encoding, bad JSON, schema violation, a path that leaves
# the root) becomes a ``Problem`` naming the file, so one bad manifest never hides the others. Two
# severities exist because the registry must stay useful on real data: a manifest that cannot be
# read or named is *unusable* (the module is left out of the registry), while a schema violation in
# a readable manifest leaves the module registered. Both are reported by the gate that owns them,
# ``check_manifests``, which fails; the registry only warns, so one bad manifest never stops the
# others' outputs.

from __future__ import annotations

import bisect
import functools
import json
import os
import posixpath
import re
from pathlib import Path
from typing import Any

import orjson

from t4tasks import paths
from t4tasks.catalog import names
from t4tasks.catalog.config import Config
from t4tasks.catalog.discovery import FileListing
from t4tasks.catalog.module import Module
from t4tasks.measure import bench
from t4tasks.problems import Problem

OWNER_PLACEHOLDER = "TODO-owner"
PLACEHOLDER = re.compile(r"^\s*TODO\b", re.IGNORECASE)  # an owner or description not yet filled in
SCHEMA_PATH = Path(__file__).parent / "schema" / "module.manifest.schema.json"
MAX_DEPTH = 64  # real manifests nest 4 levels; orjson refuses to write more than 254
LANE_TAG = re.compile(r"^lane[:=](L[0-5])$", re.IGNORECASE)


@functools.cache
def schema() -> dict[str, Any]:
    """T4's published manifest schema, shipped inside the package."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator():
    import jsonschema  # only checks validate; a no-op run must not pay the import

    return jsonschema.Draft202012Validator(schema())


def read(root: Path, relpath: str) -> tuple[dict | None, list[Problem]]:
    """Parse one manifest; on failure return None and one problem saying exactly why."""
    try:
        raw = paths.inside(root, relpath).read_bytes()
    except paths.UnsafePath:
        return None, [Problem(relpath, f"a symlink to {os.path.realpath(root / relpath)}, outside the repository")]
    except OSError as exc:
        return None, [Problem(relpath, f"cannot read: {exc.strerror}")]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(relpath, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line)]
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, [Problem(relpath, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)]
    if not isinstance(data, dict):
        return None, [Problem(relpath, f"expected a JSON object at the top level, found {type(data).__name__}")]
    if too_deep(data):
        return None, [Problem(relpath, f"JSON nested deeper than {MAX_DEPTH} levels")]
    return data, []


def too_deep(data: Any) -> bool:
    """Whether ``data`` nests deeper than MAX_DEPTH, level by level (no recursion to exhaust)."""
    # orjson writes at most 254 levels: a deeper manifest would crash every memo holding it
    level = [data]
    for _ in range(MAX_DEPTH + 1):
        level = [v for item in level for v in (item.values() if isinstance(item, dict) else item)
                 if isinstance(v, (dict, list))]
        if not level:
            return False
    return True


def validate(relpath: str, data: dict) -> list[Problem]:
    """Schema violations, one problem per error, each with its JSON pointer."""
    problems = []
    for error in _validator().iter_errors(data):
        pointer = "/" + "/".join(str(p) for p in error.absolute_path)
        message = error.message
        if error.validator == "oneOf" and error.context:
            # name the reason from the branch of the instance's own kind, not "is not valid
            # under any of the given schemas"
            specific = [e for e in error.context if e.validator != "type"] or error.context
            error = specific[0]
            message = error.message
        if error.validator == "pattern" and "description" in error.schema:
            # the raw regex helps nobody: say what the value should be
            message = f"{error.instance!r} is not valid: expected {error.schema['description']}"
        problems.append(Problem(relpath, f"{pointer}: {message}"))
    return sorted(problems)


def module_name(data: dict) -> Any:
    """The module name: ``module`` as a string, or ``module.name`` when it is an object."""
    value = data.get("module")
    return value.get("name") if isinstance(value, dict) else value


def lane_of(data: dict) -> str | None:
    """The lane from ``matrix.lane``, else ``module.lane``, else a ``lane:Lx`` tag."""
    for holder in (data.get("matrix"), data.get("module")):
        if isinstance(holder, dict) and isinstance(holder.get("lane"), str):
            return holder["lane"]
    for tag in data.get("tags") or ():
        match = LANE_TAG.match(tag) if isinstance(tag, str) else None
        if match:
            return match.group(1).upper()
    return None


def owner_of(data: dict) -> str | None:
    """The owning team: ``ownership.team``, ``owner``, ``module.owner`` or the first codeowner."""
    ownership = data.get("ownership") if isinstance(data.get("ownership"), dict) else {}
    module = data.get("module") if isinstance(data.get("module"), dict) else {}
    codeowners = ownership.get("codeowners") if isinstance(ownership.get("codeowners"), list) else []
    for candidate in (ownership.get("team"), data.get("owner"), module.get("owner"), *codeowners[:1]):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def description_of(data: dict) -> str:
    module = data.get("module") if isinstance(data.get("module"), dict) else {}
    for candidate in (data.get("description"), module.get("description")):
        if isinstance(candidate, str):
            return " ".join(candidate.split())
    return ""


def _layout_path(data: dict, key: str) -> Any:
    layout = data.get("layout")
    paths = layout.get("paths") if isinstance(layout, dict) else None
    return paths.get(key) if isinstance(paths, dict) else None


class PathResolver:
    """Turns manifest paths into repo-relative paths, refusing any that leave the root."""

    def __init__(self, root: Path, listing: FileListing):
        self.root = root
        self.real_root = os.path.realpath(root)
        self.files = listing.file_set
        self.symlinks = listing.symlinks
        self._sorted = listing.all_files

    def exists(self, relpath: str) -> bool:
        """A listed file, or a folder holding one."""
        if relpath in self.files or relpath == ".":
            return True
        prefix = relpath + "/"
        files = self._sorted
        # by bisection: no index of every folder, which cost more than parsing the one manifest that changed
        i = bisect.bisect_left(files, prefix)
        return i < len(files) and files[i].startswith(prefix)

    def _through_link(self, relpath: str) -> bool:
        """Whether ``relpath`` or one of its parents is a listed symlink (no system calls)."""
        if not self.symlinks:
            return False
        while relpath not in ("", "."):
            if relpath in self.symlinks:
                return True
            relpath = posixpath.dirname(relpath)
        return False

    def resolve(self, base: str, value: str) -> str | None:
        """``base``/``value`` normalised; None when it escapes the root lexically or by symlink."""
        value = value.replace("\\", "/")
        if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
            return None
        joined = posixpath.normpath(posixpath.join(base, value))
        if joined == ".." or joined.startswith("../"):
            return None
        if self._through_link(joined):  # only a path through a symlink can point outside
            real = os.path.realpath(self.root / joined)
            if real != self.real_root and not real.startswith(self.real_root + os.sep):
                return None
        return joined


def to_module(relpath: str, data: dict, config: Config, paths: PathResolver) -> tuple[Module | None, list[Problem]]:
    """Normalise a parsed manifest into a Module, or explain why it cannot be one."""
    name = module_name(data)
    bad_name = names.problem(name)
    if bad_name:
        return None, [Problem(relpath, f"/module: {bad_name}")]
    folder = posixpath.dirname(relpath) or "."
    problems: list[Problem] = []

    def layout(key: str) -> str | None:
        value = _layout_path(data, key)
        if not isinstance(value, str) or not value:
            return None
        resolved = paths.resolve(folder, value)
        if resolved is None:
            problems.append(Problem(relpath, f"/layout/paths/{key}: {value!r} leaves the repository root"))
        return resolved

    code = layout("code")
    listed = _layout_path(data, "tests")
    if isinstance(listed, list):  # several test folders: each resolved like a single one
        tests_list = [t for t in (paths.resolve(folder, v) if isinstance(v, str) and v else None for v in listed) if t]
        if len(tests_list) < len(listed):
            problems.append(Problem(relpath, "/layout/paths/tests: an entry is empty or leaves the repository root"))
        tests = None
    else:
        tests_list = None
        tests = layout("tests")
    docs = layout("docs")
    benches = layout("benchmarks")
    if problems:
        return None, problems

    fmt = {"path": folder, "name": name, "name_path": name.replace(".", "/")}

    def from_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
        found = []
        for pattern in patterns:
            candidate = paths.resolve(".", pattern.format(**fmt))
            if candidate and candidate != "." and paths.exists(candidate) and candidate not in found:
                found.append(candidate)
        return tuple(found)

    if tests_list is not None:
        test_paths = tuple(dict.fromkeys(t for t in tests_list if paths.exists(t)))
    else:
        test_paths = ((tests,) if paths.exists(tests) else ()) if tests else from_patterns(config.test_patterns)
    bench_paths = ((benches,) if paths.exists(benches) else ()) if benches else from_patterns(config.bench_patterns)
    testing = data.get("testing") if isinstance(data.get("testing"), dict) else {}
    performance = data.get("performance") if isinstance(data.get("performance"), dict) else {}
    target = testing.get("coverage_target")
    return Module(
        name=name,
        path=folder,
        manifest_path=relpath,
        lane=lane_of(data),
        owner=owner_of(data),
        description=description_of(data),
        code_path=code or folder,
        test_paths=test_paths,
        bench_paths=bench_paths,
        docs_path=docs,
        coverage_target=float(target) if isinstance(target, (int, float)) and not isinstance(target, bool) else None,
        no_tests=testing.get("no_tests") is True,
        no_benchmarks=performance.get("no_benchmarks") is True,
        has_sla=bool(bench.sla_targets(data)),
        raw=data,
    ), []


def placeholder_problems(relpath: str, data: dict) -> list[Problem]:
    """One problem per owner or description still holding a ``TODO`` placeholder."""
    # Meant for ``check_manifests``: a module created by ``new_module`` fails it until a person
    # fills these in, which is the point of a placeholder.
    ownership = data.get("ownership") if isinstance(data.get("ownership"), dict) else {}
    module = data.get("module") if isinstance(data.get("module"), dict) else {}
    codeowners = ownership.get("codeowners") if isinstance(ownership.get("codeowners"), list) else []
    candidates = [("/ownership/team", ownership.get("team")), ("/owner", data.get("owner")),
                  ("/module/owner", module.get("owner")),
                  *((f"/ownership/codeowners/{i}", v) for i, v in enumerate(codeowners)),
                  ("/description", data.get("description")), ("/module/description", module.get("description"))]
    return [Problem(relpath, f"{pointer}: placeholder {value!r}: replace it with the real "
                             f"{'owner' if 'owner' in pointer else 'description'}")
            for pointer, value in candidates if isinstance(value, str) and PLACEHOLDER.match(value)]
