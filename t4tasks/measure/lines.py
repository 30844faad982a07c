"""Per-line coverage of one measurement, kept compact and content-keyed next to the ledger."""
# A coverage record carries ``lines_digest``: the sha256 of a small JSON file
# ``<ledger_dir>/lines/<lines_digest>.json`` that lists, per measured source file, the git blob id
# of the content that was measured and its executable and missed lines as ranges ("1-3,7").
# Identical results share one file; a reader can tell from the blob id whether a file's line
# numbers still apply to the file as it is now.

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from t4tasks.ledgers import records
from t4tasks.speed import atomic

SCHEMA_ID = "t4.lines/1"
FIELD = records.LINES_DIGEST  # the ledger record's field naming the file
RESULT_KEY = "lines"        # the measurement result's transient field, replaced by FIELD
FOLDER = "lines"            # under the ledger folder
MAX_BYTES = 64 << 20        # a lines file larger than this is refused, not parsed


class LinesError(Exception):
    """A lines file is missing, unreadable or malformed."""


def ranges(numbers: set[int] | list[int]) -> str:
    """Sorted line numbers as ranges: ``[1, 2, 3, 7]`` → ``"1-3,7"``."""
    out: list[str] = []
    ordered = sorted(set(numbers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def numbers(text: str) -> set[int]:
    """The line numbers of a ranges string (the inverse of ``ranges``)."""
    found: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        start, end = int(first), int(last or first)
        if start < 1 or end < start:
            raise ValueError(f"bad line range {part!r}")
        found.update(range(start, end + 1))
    return found


def blob_id(data: bytes) -> str:
    """git's object id of a file with these bytes (what ``git hash-object`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def from_report(report: dict, root: Path) -> dict[str, Any]:
    """The per-line document of a coverage.py JSON report whose files live under ``root``."""
    files = {}
    for name, data in (report.get("files") or {}).items():
        path = Path(name) if os.path.isabs(name) else root / name
        try:
            relpath = path.resolve().relative_to(root.resolve()).as_posix()
            content = path.read_bytes()
        except (ValueError, OSError):
            continue    # outside the repository, or gone: nothing a diff of it could match
        missing = set(data.get("missing_lines") or ())
        statements = set(data.get("executed_lines") or ()) | missing
        files[relpath] = {"blob": blob_id(content), "statements": ranges(statements),
                          "missing": ranges(missing)}
    return {"schema": SCHEMA_ID, "files": files}


def encode(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS) + b"\n"


def folder(root: Path, ledger_dir: str) -> Path:
    return root / ledger_dir / FOLDER


def keep(root: Path, ledger_dir: str, result: dict[str, Any]) -> dict[str, Any]:
    """Write the result's per-line document to its content-keyed file; return the result with its digest."""
    document = result.get(RESULT_KEY)
    kept = {k: v for k, v in result.items() if k != RESULT_KEY}
    if document is None:  # it has none
        return kept
    data = encode(document)
    digest = hashlib.sha256(data).hexdigest()
    path = folder(root, ledger_dir) / f"{digest}.json"
    if not path.exists():
        atomic.write_bytes(path, data)
    kept[FIELD] = digest  # the file's digest takes the document's place in the result
    return kept


def parse(data: bytes, where: str) -> dict[str, dict[str, Any]]:
    """The files of a lines document, ``{path: {"blob", "statements", "missing"}}``, line sets parsed."""
    # ``where`` names the file in errors.
    if len(data) > MAX_BYTES:
        raise LinesError(f"{where}: larger than {MAX_BYTES} bytes")
    try:
        document = orjson.loads(data)
        if not isinstance(document, dict) or document.get("schema") != SCHEMA_ID:
            raise ValueError(f"not a {SCHEMA_ID} document")
        return {path: {"blob": str(entry["blob"]), "statements": numbers(entry["statements"]),
                       "missing": numbers(entry["missing"])}
                for path, entry in document["files"].items()}
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LinesError(f"{where}: malformed lines file: {exc}") from None


def load(root: Path, ledger_dir: str, digest: str) -> dict[str, dict[str, Any]]:
    """The lines document a record names by ``digest``, checked against its digest."""
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise LinesError(f"{ledger_dir}: bad {FIELD} {digest!r}")
    path = folder(root, ledger_dir) / f"{digest}.json"
    where = f"{ledger_dir}/{FOLDER}/{digest}.json"
    try:
        data = path.read_bytes()
    except OSError:
        raise LinesError(f"{where}: missing (measure the module again)") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise LinesError(f"{where}: content does not match its digest")
    return parse(data, where)
