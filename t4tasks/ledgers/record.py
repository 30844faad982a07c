"""Recording a measurement: the per-module result file, the ledger entry, the manifest block.

Order matters for crash safety. The ledger entry is appended first (deduplicated by input
digest), then the manifest is updated from the ledger's latest entry, then the per-module result
(the doit target) is written. A kill between any two steps leaves the task without its saved
state, so doit reruns it; the rerun appends nothing new for the same inputs and finishes the
manifest update from the entry already recorded.
"""

from __future__ import annotations

from pathlib import Path

from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, merge, observed, shard
from t4tasks.speed import atomic

COVERAGE_LEDGER = "coverage.ndjson"
BENCH_LEDGER = "bench.ndjson"


def ledger_path(project: Project, name: str) -> Path:
    return project.root / project.config.ledger_dir / name


def result_path(project: Project, kind: str, module: Module) -> str:
    """Repo-relative path of a module's latest result (a doit target, kept under ``.t4/``)."""
    return f"{project.config.state_dir}/results/{kind}/{module.name}.json"


def _append_or_find(project: Project, name: str, record: dict) -> dict:
    """Append the record (to this shard's fragment when sharded: ``t4 merge`` brings it into the
    ledger later), or return the identical-input entry already there."""
    path = ledger_path(project, name)
    spec = shard.current()
    if spec is not None:
        fragment = merge.fragment_path(project.state_dir(), record[ledger.KIND], spec)
        return merge.append_fragment(path, fragment, record)
    if ledger.append(path, record):
        return record
    return ledger.latest(path, kind=record[ledger.KIND])[record[ledger.MODULE]]


def record_coverage(project: Project, module: Module, result: dict, digest: str) -> dict:
    values = {k: v for k, v in result.items() if k != "detail" or v}
    record = ledger.new_record("coverage", module.name, values, digest,
                               git_commit=ledger.git_head(project.root))
    entry = _append_or_find(project, COVERAGE_LEDGER, record)
    observed.set_coverage(project.root / module.manifest_path, project.state_dir() / "locks",
                          entry.get(ledger.COVERAGE), entry[ledger.TS], entry[ledger.INPUT_DIGEST])
    atomic.write_json(project.root / result_path(project, "coverage", module),
                      {k: v for k, v in entry.items() if k != ledger.LINE})
    return entry


def record_bench(project: Project, module: Module, result: dict, environment: dict, digest: str) -> dict:
    values = {k: v for k, v in result.items() if k != "detail" or v}
    values["env_fingerprint"] = environment["fingerprint"]
    values["env"] = environment["facts"]
    record = ledger.new_record("bench", module.name, values, digest,
                               git_commit=ledger.git_head(project.root))
    entry = _append_or_find(project, BENCH_LEDGER, record)
    if entry.get("summary"):
        observed.set_bench(project.root / module.manifest_path, project.state_dir() / "locks",
                           entry["summary"], entry[ledger.TS], entry["env_fingerprint"],
                           entry[ledger.INPUT_DIGEST])
    atomic.write_json(project.root / result_path(project, "bench", module),
                      {k: v for k, v in entry.items() if k != ledger.LINE})
    return entry
