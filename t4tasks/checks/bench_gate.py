"""The bench gate: does each benchmarked module meet its SLA, without regressing?"""
# A module fails when its latest benchmark run did not pass, its p95/p99 misses the manifest's
# latency target, a benchmark regressed against earlier runs on the same environment fingerprint
# (slower beyond the configured threshold AND significant), it was never measured, or its
# observation is stale (code or benchmarks changed since).

from __future__ import annotations

from dataclasses import dataclass

from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, record, records
from t4tasks.measure import bench, inputs
from t4tasks.problems import Problem
from t4tasks.speed import memo


@dataclass(frozen=True)
class Verdict:
    module: str
    status: str       # pass, no_observation, stale, missed_sla, regressed, or the run's status
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status != "pass"

    def line(self) -> str:
        return f"{self.module:<32} {self.status}" + (f"  {self.detail}" if self.detail else "")


def history(project: Project) -> tuple[dict[str, list[dict]], list[Problem]]:
    """Bench ledger entries per module, oldest first, and the reader's problems."""
    problems: list[Problem] = []
    return ledger.by_module(record.ledger_path(project, record.BENCH_LEDGER), problems), problems


def judge(project: Project, module: Module, entries: list[dict], remembered: memo.Memo) -> Verdict:
    if not module.bench_paths:
        if module.no_benchmarks:
            return Verdict(module.name, "pass", "the manifest declares performance.no_benchmarks")
        return Verdict(module.name, "no_benchmarks", "SLA targets but no benchmarks "
                                                     "(set performance.no_benchmarks: true if that is on purpose)")
    if not entries:
        return Verdict(module.name, "no_observation", "has benchmarks, never measured")
    latest = entries[-1]
    if not records.is_ok(latest):
        why = records.reason_of(latest, missing=records.NO_REASON)
        return Verdict(module.name, records.status_of(latest), f"last benchmark run did not pass: {why}")
    files = inputs.module_inputs(project, module, module.bench_paths)
    if latest.get(ledger.INPUT_DIGEST) != inputs.digest_now(project, remembered, files, inputs.bench_spec(project, module)):
        return Verdict(module.name, "stale", "code or benchmarks changed since the observation")
    summary = latest.get("summary")
    if bench.meets_sla(module.manifest, summary) is False:
        targets = bench.sla_targets(module.manifest)
        return Verdict(module.name, "missed_sla",
                       f"p95 {summary.get('p95_ms')} ms, p99 {summary.get('p99_ms')} ms vs target {targets}")
    rows = bench.compare(latest, entries[:-1], project.config.bench_regression_threshold)
    regressed = [row["explain"] for row in rows if row["regressed"]]
    if regressed:
        return Verdict(module.name, "regressed", "; ".join(regressed))
    return Verdict(module.name, "pass")


def run(project: Project, modules: list[Module]) -> tuple[list[Verdict], list[Problem]]:
    per_module, problems = history(project)
    remembered = project.memo("bench-digests")
    verdicts = [judge(project, m, per_module.get(m.name, []), remembered) for m in modules]
    remembered.save()
    return verdicts, problems
