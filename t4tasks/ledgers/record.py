"""Recording a measurement: the per-module result file, the ledger entry, the manifest block."""
# Order matters for crash safety. The ledger entry is appended first (unless the latest one has the
# same key and values), then the manifest is updated from the ledger's latest entry, then the
# per-module result (the doit target) is written. A kill between any two steps leaves the task
# without its saved state, so doit reruns it: it records what that run finds, or, when the ledger
# already holds the key, adopts that entry and writes the manifest from it.

from __future__ import annotations

from pathlib import Path

from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, merge, observed, records, shard
from t4tasks.speed import atomic

# what became of a run, in its result file (not in the ledger): appended, equal to the latest
# record with the same key, or no run at all because the ledger already held the key
OUTCOME = "outcome"
RECORDED, UNCHANGED, FROM_LEDGER = "recorded", "unchanged", "from_ledger"

COVERAGE_LEDGER = records.ledger_file(records.COVERAGE)
BENCH_LEDGER = records.ledger_file(records.BENCH)


def ledger_path(project: Project, name: str) -> Path:
    return project.root / project.config.ledger_dir / name


def _observe(project: Project, module: Module, kind: str, entry: dict) -> None:
    """The manifest's observed block from the ledger ``entry`` of ``kind``."""
    locks = project.state_dir() / "locks"
    if kind == records.COVERAGE:
        observed.set_coverage(project.root / module.manifest_path, locks, entry.get(ledger.COVERAGE),
                              entry[ledger.TS], entry[ledger.INPUT_DIGEST])
    elif entry.get("summary"):
        observed.set_bench(project.root / module.manifest_path, locks, entry["summary"], entry[ledger.TS],
                           entry["env_fingerprint"], entry[ledger.INPUT_DIGEST])


def result_path(project: Project, kind: str, module: Module) -> str:
    """Repo-relative path of a module's latest result (a doit target, kept under ``.t4/``)."""
    return f"{project.config.state_dir}/results/{kind}/{module.name}.json"


def _append(project: Project, name: str, record: dict) -> tuple[dict, bool]:
    """Append the record unless the latest entry has its key and values; return the entry and if new."""
    path = ledger_path(project, name)
    spec = shard.current()
    if spec is not None:  # sharded: to this shard's fragment, ``t4 merge`` brings it into the ledger later
        fragment = merge.fragment_path(project.state_dir(), record[ledger.KIND], spec)
        entry = merge.append_fragment(path, fragment, record)
        return entry, entry.get(ledger.TS) == record[ledger.TS]
    if ledger.append(path, record):
        return record, True
    return ledger.latest(path, kind=record[ledger.KIND])[record[ledger.MODULE]], False


def _shown(run: dict, appended: bool) -> dict:
    """What the result file keeps and T4 prints: the run's own record, and whether it was new."""
    own = {k: v for k, v in run.items() if k != ledger.LINE}
    own[OUTCOME] = RECORDED if appended else UNCHANGED
    return own


def _values(result: dict, imports: list[str]) -> dict:
    values = {k: v for k, v in result.items() if (k != "detail" or v) and k != records.IMPORTS}
    values[records.IMPORTS] = imports
    return values


def record_coverage(project: Project, module: Module, result: dict, digest: str, imports: list[str]) -> dict:
    """Record a coverage run; the run's own result (``outcome``: recorded or unchanged)."""
    record = ledger.new_record(records.COVERAGE, module.name, _values(result, imports), digest,
                               git_commit=ledger.git_head(project.root))
    entry, appended = _append(project, COVERAGE_LEDGER, record)
    _observe(project, module, records.COVERAGE, entry)
    shown = _shown(record, appended)
    atomic.write_json(project.root / result_path(project, records.COVERAGE, module), shown)
    return shown


def record_bench(project: Project, module: Module, result: dict, environment: dict, digest: str,
                 imports: list[str]) -> dict:
    """Record a bench run; the run's own result (``outcome``: recorded or unchanged)."""
    values = _values(result, imports)
    values["env_fingerprint"] = environment["fingerprint"]
    values["env"] = environment["facts"]
    record = ledger.new_record(records.BENCH, module.name, values, digest,
                               git_commit=ledger.git_head(project.root))
    entry, appended = _append(project, BENCH_LEDGER, record)
    _observe(project, module, records.BENCH, entry)
    shown = _shown(record, appended)
    atomic.write_json(project.root / result_path(project, records.BENCH, module), shown)
    return shown


def adopt(project: Project, kind: str, module: Module, digest: str) -> dict | None:
    """The ledger as the cache: the module's latest ok ledger record with this key, as its result."""
    # Only when the module has no result yet (a fresh clone); None otherwise.
    path = ledger_path(project, records.ledger_file(kind))
    entry = ledger.latest(path, kind=kind).get(module.name) if path.is_file() else None
    if not records.is_ok(entry) or entry.get(ledger.INPUT_DIGEST) != digest:
        return None
    # a run killed after its ledger entry may not have written the manifest: it is written now
    _observe(project, module, kind, entry)
    shown = {k: v for k, v in entry.items() if k != ledger.LINE}
    shown[OUTCOME] = FROM_LEDGER
    atomic.write_json(project.root / result_path(project, kind, module), shown)
    return shown
