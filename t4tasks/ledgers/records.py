"""The ledger formats: kinds, ledger file names, each kind's typed value fields, older spellings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COVERAGE = "coverage"
BENCH = "bench"
SCAFFOLD = "scaffold"
TEST_SCAFFOLD = "test_scaffold"
README_BADGES = "readme_badges"
MANIFEST_EDIT = "manifest_edit"  # any other ``<module>.ndjson``: a per-module manifest-edit ledger

MEASURED_KINDS = (COVERAGE, BENCH)          # kinds a measurement records (and a shard fragment carries)
SCAFFOLD_KINDS = (SCAFFOLD, TEST_SCAFFOLD)  # kinds scaffolding records, one ledger file each

# kind -> its ledger file under [tool.t4] ledger_dir
LEDGER_FILES = {COVERAGE: "coverage.ndjson", BENCH: "bench.ndjson", SCAFFOLD: "scaffold.ndjson",
                TEST_SCAFFOLD: "test_scaffold.ndjson", README_BADGES: "badges.ndjson"}
# entries written before ``kind`` existed take it from their file name (badges always had a kind)
FILE_KINDS = {LEDGER_FILES[kind].removesuffix(".ndjson"): kind
              for kind in (COVERAGE, BENCH, SCAFFOLD, TEST_SCAFFOLD)}

# Older field name -> current one; the original field is kept next to the normalised one.
ALIASES = {"timestamp": "ts", "coverage_pct": "coverage"}

STATUS = "status"
OK = "ok"
# The one meaning of an entry without ``status``: it predates the field, when only successful
# measurements were written (the lukhas ledgers), so it is ok.
MISSING_STATUS = OK

IMPORTS = "imports"  # repository files the measured run imported beyond the module's own inputs
LINES_DIGEST = "lines_digest"  # names the per-line file next to the ledger (see measure/lines.py)
HEADLINE = "headline"  # which coverage figure is the headline: "line" or "branch"

_NUMBER = (int, float)
_NONE = type(None)
# kind -> field -> accepted Python types of its JSON value (absent fields are not checked)
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    COVERAGE: {
        STATUS: (str,), "coverage": (*_NUMBER, _NONE), "coverage_pct": (*_NUMBER, _NONE),
        "line_pct": (*_NUMBER, _NONE), "branch_pct": (*_NUMBER, _NONE),
        "statements": (int, _NONE), "covered_lines": (int, _NONE), "branches": (int, _NONE),
        "covered_branches": (int, _NONE), "files": (int, _NONE), "tests": (dict, _NONE),
        "duration_s": (*_NUMBER, _NONE), "versions": (dict, _NONE), "detail": (str, _NONE),
        IMPORTS: (list,), LINES_DIGEST: (str, _NONE), HEADLINE: (str, _NONE),
    },
    BENCH: {
        STATUS: (str,), "message": (str, _NONE), "benchmarks": (list,), "summary": (dict, _NONE),
        "duration_s": (*_NUMBER, _NONE), "versions": (dict, _NONE), "env_fingerprint": (str,),
        "env": (dict,), IMPORTS: (list,),
    },
}
# the fields a rerun must reproduce to count as "unchanged" (timings of a run are not among them
# for coverage; for bench every new sample of timings is a new observation)
COMPARED = {
    COVERAGE: (STATUS, "coverage", "line_pct", "branch_pct", "statements", "covered_lines", "branches",
               "covered_branches", "files", "tests", IMPORTS, LINES_DIGEST, HEADLINE),
    BENCH: (STATUS, "benchmarks", "summary", IMPORTS),
}


def ledger_file(kind: str) -> str:
    """The ledger file name of ``kind``."""
    return LEDGER_FILES[kind]


def file_kind(file_name: str) -> str:
    """The kind of entries that predate the ``kind`` field, from their ledger's file name."""
    return FILE_KINDS.get(file_name.removesuffix(".ndjson"), MANIFEST_EDIT)


def status_of(entry: Mapping[str, Any]) -> str:
    """An entry's status, with the one meaning of a missing one."""
    return entry.get(STATUS, MISSING_STATUS)


def is_ok(entry: Mapping[str, Any] | None) -> bool:
    return entry is not None and status_of(entry) == OK


NO_REASON = "no reason recorded"  # what the gates say of a non-ok run whose detail says nothing


def reason_of(entry: Mapping[str, Any] | None, width: int = 160, missing: str | None = None) -> str | None:
    """The one line of a non-ok run's ``detail`` that says why: a failed test, an error, or its last line."""
    if is_ok(entry):
        return None
    detail = entry.get("detail") if entry else None
    if not isinstance(detail, str):
        return missing
    lines = [line.strip() for line in detail.splitlines() if line.strip() and not line.startswith("pytest exit code")]
    # pytest's summary names a failed test, its "E" lines the error (a conftest that does not import)
    found = (next((line for line in lines if line.startswith(("FAILED ", "ERROR "))), None)
             or next((" ".join(line[1:].split()) for line in lines if line.startswith("E ")), None)
             or next((line for line in lines if "Error" in line), None)
             or (lines[-1] if lines else None))
    return missing if found is None else found if len(found) <= width else found[:width - 1] + "…"


def wrong_type(kind: str, entry: Mapping[str, Any]) -> str | None:
    """The first value field of ``entry`` whose JSON type ``kind`` does not allow, as a message."""
    for field, types in FIELDS.get(kind, {}).items():
        if field in entry:
            value = entry[field]
            # JSON true/false are bool, which Python counts as int: never a number here
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return f"{field}: {_short(value)} is not {_described(types)}"
    values = entry.get(IMPORTS)
    if isinstance(values, list) and not all(isinstance(v, str) for v in values):
        return f"{IMPORTS}: not a list of repository paths"
    return None


def same_values(kind: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two entries of ``kind`` observed the same values (a rerun that changes nothing)."""
    return all(a.get(field) == b.get(field) for field in COMPARED.get(kind, ()))


_NAMES = {str: "a string", dict: "an object", list: "a list", int: "an integer", _NONE: "null"}


def _described(types: tuple[type, ...]) -> str:
    """``types`` in JSON words: "a number or null", "a string"."""
    words = ["a number"] if float in types else []
    words += [_NAMES[t] for t in types if t not in (float, *(() if not words else (int,)))]
    return " or ".join(words)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
