"""The "observed" blocks of a manifest: the one place that knows their field names."""
# A measurement is written twice: as a ledger record (the audit trail) and as the manifest's
# observed block (what humans read). Both carry the same timestamp and input digest, so a gate can
# join them exactly. Updating a manifest keeps its key order and formatting (its own indent and
# newline style, the same ASCII escaping, the same final newline), so the diff a reviewer sees is
# the observation only.

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from t4tasks.speed import atomic

TESTING = "testing"
COVERAGE_OBSERVED = "coverage_observed"
OBSERVED_AT = "observed_at"
OBSERVED_DIGEST = "observed_digest"
PERFORMANCE = "performance"
PERF_OBSERVED = "observed"
PERF_FIELDS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
ENV_FINGERPRINT = "env_fingerprint"
_INDENT = re.compile(r"^([ \t]+)[\"\]}]", re.MULTILINE)  # the first indented key or closing bracket


def strip(manifest: dict) -> dict:
    """The manifest without observed values: what identifies the module, not its last run."""
    clean = dict(manifest)
    testing = clean.get(TESTING)
    if isinstance(testing, dict):
        clean[TESTING] = {k: v for k, v in testing.items()
                          if k not in (COVERAGE_OBSERVED, OBSERVED_AT, OBSERVED_DIGEST)}
    performance = clean.get(PERFORMANCE)
    if isinstance(performance, dict):
        clean[PERFORMANCE] = {k: v for k, v in performance.items() if k != PERF_OBSERVED}
    return clean


def only(manifest: dict) -> dict:
    """The observed blocks and the module name: all that the ledger check reads of a manifest."""
    # A small value to remember per manifest content, instead of the whole manifest.
    kept: dict[str, Any] = {}
    name = manifest.get("module")
    if name is not None:
        kept["module"] = {"name": name.get("name")} if isinstance(name, dict) else name
    testing = manifest.get(TESTING)
    if isinstance(testing, dict):
        kept[TESTING] = {k: v for k, v in testing.items() if k in (COVERAGE_OBSERVED, OBSERVED_AT, OBSERVED_DIGEST)}
    performance = manifest.get(PERFORMANCE)
    if isinstance(performance, dict) and PERF_OBSERVED in performance:
        kept[PERFORMANCE] = {PERF_OBSERVED: performance[PERF_OBSERVED]}
    return kept


def coverage_of(manifest: dict) -> dict | None:
    """``{"coverage", "ts", "digest"}`` from the manifest, or None when nothing is observed."""
    testing = manifest.get(TESTING)
    if not isinstance(testing, dict) or COVERAGE_OBSERVED not in testing:
        return None
    return {"coverage": testing.get(COVERAGE_OBSERVED), "ts": testing.get(OBSERVED_AT),
            "digest": testing.get(OBSERVED_DIGEST)}


def bench_of(manifest: dict) -> dict | None:
    performance = manifest.get(PERFORMANCE)
    block = performance.get(PERF_OBSERVED) if isinstance(performance, dict) else None
    return dict(block) if isinstance(block, dict) else None


def _rewrite(path: Path, lock_dir: Path, change) -> None:
    """Read-modify-write one manifest under its own lock (coverage and bench may race on it)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock  # writers only: a read-only run must not pay the import

    lock = lock_dir / (hashlib.sha256(str(path).encode()).hexdigest()[:16] + ".lock")
    with FileLock(str(lock)):
        real = Path(os.path.realpath(path))  # a manifest linked inside the root stays a link
        text = real.read_bytes().decode("utf-8")
        data = json.loads(text)
        change(data)
        if data == json.loads(text):
            return  # already says so: the file (and its formatting) stays as it is
        newline = "\r\n" if "\r\n" in text else "\n"
        out = json.dumps(data, indent=_indent_of(text), ensure_ascii=text.isascii())
        if text.endswith("\n"):
            out += "\n"
        atomic.write_bytes(real, out.replace("\n", newline).encode("utf-8"))


def _indent_of(text: str) -> int | str | None:
    """The manifest's own indent: a tab, a number of spaces, or None for a one-line manifest."""
    found = _INDENT.search(text)
    if found is None:
        return None
    return "\t" if found[1].startswith("\t") else len(found[1])


def set_coverage(path: Path, lock_dir: Path, coverage: float | None, ts: str, digest: str) -> None:
    def change(data: dict[str, Any]) -> None:
        testing = data.setdefault(TESTING, {})
        testing[COVERAGE_OBSERVED] = coverage
        testing[OBSERVED_AT] = ts
        testing[OBSERVED_DIGEST] = digest
    _rewrite(path, lock_dir, change)


def set_bench(path: Path, lock_dir: Path, summary: dict, ts: str, fingerprint: str, digest: str) -> None:
    def change(data: dict[str, Any]) -> None:
        performance = data.setdefault(PERFORMANCE, {})
        performance[PERF_OBSERVED] = {
            **{f: summary.get(f.replace("latency_", "")) for f in PERF_FIELDS},
            OBSERVED_AT: ts,
            ENV_FINGERPRINT: fingerprint,
            OBSERVED_DIGEST: digest,
        }
    _rewrite(path, lock_dir, change)
