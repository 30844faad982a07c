"""Sharded runs: each shard's ledger records go to a fragment; ``t4 merge`` folds fragments in."""
# A shard (``t4 coverage --shard I/N`` on one CI machine) must not append to the committed ledgers:
# N machines would each produce a different ledger. It writes its records to a **fragment**,
# ``<state_dir>/fragments/<kind>-<I>of<N>.ndjson``. A fragment *is* a ledger file: the same lines,
# same fields, written with ``ledger.append`` (so it has its own ``prev`` chain, which the merge
# drops: the chain of the real ledger is recomputed on append).
#
# ``merge`` then folds any number of fragments into the ledgers and manifests, deterministically:
#
# 1. every fragment line is read (malformed lines are reported, never fatal), ``prev`` and the
# reader's ``_line`` are dropped, and records that are byte-for-byte the same are kept once (the
# same fragment given twice, or downloaded twice, counts once); 2. records are sorted by (kind,
# module, ts, input_digest, content) — so the order in which the fragments are given does not
# matter; 3. per (kind, module), a record is skipped as **stale** when it is not newer than the
# entry the ledger already has for that module (merging the same fragments again appends nothing;
# an old fragment never overrides a newer measurement), and as a **duplicate** when its input
# digest equals the latest entry's (``ledger.append``'s own rule: an unchanged module measured
# again); the rest are appended with ``ledger.append``, which keeps the hash chain; 4. each
# module's manifest observed block is set from the ledger's latest entry for it, exactly as
# ``record.py`` does after a measurement, and only written when it differs.
#
# Deduplication is against the ledger's *latest* entry per module, not its whole history, on
# purpose: a module reverted to an earlier state has an earlier input digest, and its new
# measurement must become the latest one (as in an unsharded run).

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from t4tasks.ledgers import ledger, observed, records
from t4tasks.problems import Problem

FRAGMENTS_DIR = "fragments"
KINDS = records.MEASURED_KINDS          # kinds a fragment may carry


def fragment_path(state_dir: Path, kind: str, shard: tuple[int, int]) -> Path:
    """``<state_dir>/fragments/<kind>-<I>of<N>.ndjson``: where shard I of N records ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    index, total = shard
    return Path(state_dir) / FRAGMENTS_DIR / f"{kind}-{index}of{total}.ndjson"


def ledger_name(kind: str) -> str:
    """The committed ledger file of ``kind``."""
    return records.ledger_file(kind)


def append_fragment(ledger_path: Path, fragment: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """A shard's replacement for appending to the ledger; returns the entry to record."""
    kind, module = record[ledger.KIND], record[ledger.MODULE]
    main = _latest_of(Path(ledger_path), kind, module)
    # the committed ledger's latest entry with this input digest and these values is the measurement
    # (nothing is written: the merge would drop it anyway)
    if (main is not None and main.get(ledger.INPUT_DIGEST) == record[ledger.INPUT_DIGEST]
            and records.same_values(kind, main, record)):
        return main
    # deduplicated in the fragment the same way: a rerun after a crash appends nothing
    if ledger.append(fragment, record):
        return dict(record)
    return _latest_of(Path(fragment), kind, module)


def _latest_of(path: Path, kind: str, module: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return ledger.latest(path, kind=kind).get(module)


def _clean(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in (ledger.PREV, ledger.LINE)}


def _canonical(entry: Mapping[str, Any]) -> bytes:
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


def read_fragments(fragments: Iterable[Path], problems: list[Problem]) -> list[dict[str, Any]]:
    """Every usable record of the fragments, once each, in merge order (see the comments atop the module)."""
    unique: dict[bytes, dict[str, Any]] = {}
    for path in fragments:
        path = Path(path)
        if not path.is_file():
            problems.append(Problem(str(path), "fragment not found"))
            continue
        for entry in ledger.read(path, problems):
            line = entry[ledger.LINE]
            kind, digest = entry.get(ledger.KIND), entry.get(ledger.INPUT_DIGEST)
            if entry.get(ledger.SCHEMA) != ledger.SCHEMA_ID:
                problems.append(Problem(str(path), f"skipped: not a {ledger.SCHEMA_ID} entry", line))
            elif kind not in KINDS:
                problems.append(Problem(str(path), f"skipped: kind {kind!r} is not one of {', '.join(KINDS)}", line))
            elif not isinstance(digest, str) or not digest:
                problems.append(Problem(str(path), "skipped: input_digest missing", line))
            else:
                record = _clean(entry)
                unique.setdefault(_canonical(record), record)
    return [unique[key] for key in sorted(unique, key=lambda k: (_sort_key(unique[k]), k))]


def _sort_key(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (record[ledger.KIND], record[ledger.MODULE], record[ledger.TS], record[ledger.INPUT_DIGEST])


def merge(root: Path, ledger_dir: Path, fragments: list[Path], manifests: Mapping[str, Path], *,
          lock_dir: Path | None = None) -> dict[str, Any]:
    """Fold ``fragments`` into ``ledger_dir/<kind>.ndjson`` and the modules' manifests."""
    # Returns counts and ``problems`` (one line each, file and line number).
    root = Path(root)
    ledger_dir = root / ledger_dir  # may be relative to ``root``
    lock_dir = Path(lock_dir) if lock_dir is not None else root / ".t4" / "locks"
    problems: list[Problem] = []
    records = read_fragments(fragments, problems)
    counts = {"fragments": len(fragments), "records": len(records), "appended": 0, "duplicates": 0,
              "stale": 0, "manifests_updated": 0}
    latest_by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    touched: dict[tuple[str, str], None] = {}
    for record in records:
        kind, module = record[ledger.KIND], record[ledger.MODULE]
        path = ledger_dir / ledger_name(kind)
        if kind not in latest_by_kind:
            latest_by_kind[kind] = ledger.latest(path, kind=kind, problems=problems) if path.is_file() else {}
        latest = latest_by_kind[kind].get(module)
        touched[(kind, module)] = None
        if latest is not None and ledger.parse_ts(record[ledger.TS]) <= ledger.parse_ts(latest[ledger.TS]):
            counts["stale"] += 1
        elif ledger.append(path, record):
            counts["appended"] += 1
            latest_by_kind[kind][module] = record
        else:
            counts["duplicates"] += 1
    for kind, module in touched:
        entry = latest_by_kind[kind].get(module)
        target = manifests.get(module)  # module name → manifest path, absolute or relative to ``root``
        if target is None:  # its records are merged all the same, and it is reported
            problems.append(Problem(str(ledger_dir / ledger_name(kind)),
                                    f"{module}: merged records of a module with no manifest"))
            continue
        target = Path(target) if Path(target).is_absolute() else root / target
        if _set_observed(kind, target, lock_dir, entry):
            counts["manifests_updated"] += 1
    counts["problems"] = [str(p) for p in problems]
    return counts


def _set_observed(kind: str, manifest: Path, lock_dir: Path, entry: dict[str, Any]) -> bool:
    """Set the observed block from ``entry`` unless the manifest already shows it; True if written."""
    data = orjson.loads(manifest.read_bytes())
    ts, digest = entry[ledger.TS], entry[ledger.INPUT_DIGEST]
    if kind == records.COVERAGE:
        shown = observed.coverage_of(data)
        if shown == {"coverage": entry.get(ledger.COVERAGE), "ts": ts, "digest": digest}:
            return False
        observed.set_coverage(manifest, lock_dir, entry.get(ledger.COVERAGE), ts, digest)
        return True
    if not entry.get("summary"):
        return False  # record.record_bench leaves the manifest alone without a summary too
    shown = observed.bench_of(data) or {}
    if shown.get(observed.OBSERVED_AT) == ts and shown.get(observed.OBSERVED_DIGEST) == digest:
        return False
    observed.set_bench(manifest, lock_dir, entry["summary"], ts, entry["env_fingerprint"], digest)
    return True


# --------------------------------------------------------------------------------------------
# ``t4 merge FRAGMENTS...`` as a doit task (tasks.py: ``from .merge import task_merge``)


def run(project, fragments: list[str]) -> tuple[dict[str, Any], int]:
    """Merge ``fragments`` (paths relative to the project root or absolute) into ``project``."""
    paths = [Path(f) if Path(f).is_absolute() else project.root / f for f in fragments]
    manifests = {m.name: Path(m.manifest_path) for m in project.modules}
    counts = merge(project.root, Path(project.config.ledger_dir), paths, manifests,
                   lock_dir=project.state_dir() / "locks")
    return counts, (1 if counts["problems"] else 0)


def task_merge():
    """Merge shard fragments into the ledgers and manifests: t4 merge .t4/fragments/*.ndjson"""
    from doit.exceptions import TaskFailed

    from t4tasks.catalog.project import load_cached

    project = load_cached(os.getcwd())

    def action(pos):
        if not pos:
            return TaskFailed("t4 merge: give the fragment files, e.g. t4 merge .t4/fragments/*.ndjson")
        counts, code = run(project, list(pos))
        for problem in counts["problems"]:
            print(problem, file=sys.stderr)
        print("merge: {fragments} fragment(s), {records} record(s): {appended} appended, "
              "{duplicates} duplicate, {stale} stale; {manifests_updated} manifest(s) updated".format(**counts))
        return TaskFailed(f"{len(counts['problems'])} problem(s)") if code else None

    return {"actions": [action], "pos_arg": "pos", "uptodate": [False], "verbosity": 2}
