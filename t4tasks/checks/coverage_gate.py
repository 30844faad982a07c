"""The coverage gate: is each module's latest observation fresh, passing and on target?"""
# Target: ``testing.coverage_target`` from the manifest, else the lane's target. A module fails the
# gate when it is below target, has tests but no observation, has a stale observation (its code or
# tests changed since), or its last test run did not pass. ``ratchet`` also fails a module whose
# coverage dropped below its previous recorded value.

from __future__ import annotations

from dataclasses import dataclass

from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, record, records
from t4tasks.measure import inputs
from t4tasks.problems import Problem
from t4tasks.speed import memo


@dataclass(frozen=True)
class Verdict:
    module: str
    observed: float | None
    target: float | None
    status: str          # pass, below_target, no_observation, stale, tests_failed, ..., untested, no_tests, no_target
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status not in ("pass", "no_tests", "no_target")

    def numbers(self) -> str:
        def fmt(v: float | None) -> str:
            return "—" if v is None else f"{v:.2f}"
        delta = fmt(self.observed - self.target) if None not in (self.observed, self.target) else "—"
        return f"observed {fmt(self.observed):>6}  target {fmt(self.target):>6}  delta {delta:>7}"

    def line(self) -> str:
        text = f"{self.module:<32} {self.numbers()}  {self.status}"
        return text + (f" ({self.detail})" if self.detail else "")


def target_of(project: Project, module: Module) -> float | None:
    if module.coverage_target is not None:
        return module.coverage_target
    lane = module.lane or project.config.default_lane  # "none": no default, no target
    return project.config.lanes.get(lane)


def history(project: Project) -> tuple[dict[str, list[dict]], list[Problem]]:
    """Coverage ledger entries per module, oldest first, and the reader's problems."""
    problems: list[Problem] = []
    return ledger.by_module(record.ledger_path(project, record.COVERAGE_LEDGER), problems), problems


def judge(project: Project, module: Module, entries: list[dict], ratchet: bool, remembered: memo.Memo) -> Verdict:
    target = target_of(project, module)
    latest = entries[-1] if entries else None
    observed = latest.get("coverage") if latest else None
    if latest is None:
        if not module.test_paths:
            return _no_tests(module, None, target, entries)
        return Verdict(module.name, None, target, "no_observation", "has tests, never measured")
    status = records.status_of(latest)
    if status != records.OK:
        if status == "no_tests":
            return _no_tests(module, observed, target, entries)
        return Verdict(module.name, observed, target, status,
                       f"last run did not pass: {records.reason_of(latest, missing=records.NO_REASON)}")
    digest = latest.get(ledger.INPUT_DIGEST)
    files = inputs.module_inputs(project, module, module.test_paths)
    spec = inputs.coverage_spec(project, module)
    if digest is not None and digest != inputs.digest_now(project, remembered, files, spec):
        return Verdict(module.name, observed, target, "stale", "code or tests changed since the observation")
    if target is None:
        return Verdict(module.name, observed, None, "no_target", "no lane and no testing.coverage_target")
    if observed is None or observed < target:
        return Verdict(module.name, observed, target, "below_target")
    if ratchet:
        earlier = [e.get("coverage") for e in entries[:-1] if records.is_ok(e) and e.get("coverage") is not None]
        if earlier and observed < earlier[-1]:
            return Verdict(module.name, observed, target, "ratchet", f"dropped from {earlier[-1]:.2f}")
    return Verdict(module.name, observed, target, "pass")


def _no_tests(module: Module, observed: float | None, target: float | None, entries: list[dict]) -> Verdict:
    """No tests: passes when the manifest says so or nothing asks for them; fails otherwise."""
    if module.no_tests:
        return Verdict(module.name, observed, target, "no_tests", "the manifest declares testing.no_tests")
    had_tests = any(records.status_of(e) != "no_tests" for e in entries)
    # nothing asks for them: no target, or only the lane's target for a module never measured with tests
    if target is None or (module.coverage_target is None and not had_tests):
        return Verdict(module.name, observed, target, "no_tests", "no tests found")
    # failing here means deleting a failing module's tests never turns the gate green
    return Verdict(module.name, observed, target, "untested",
                   "a coverage target but no tests (set testing.no_tests: true if that is on purpose)")


def run(project: Project, modules: list[Module], ratchet: bool = False) -> tuple[list[Verdict], list[Problem]]:
    per_module, problems = history(project)
    remembered = project.memo("coverage-digests")
    verdicts = [judge(project, m, per_module.get(m.name, []), ratchet, remembered) for m in modules]
    remembered.save()
    return verdicts, problems
