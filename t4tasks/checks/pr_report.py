"""``t4 pr_report --base REF``: one PR comment in Markdown, the changed modules against REF."""
# Each module whose inputs changed since REF is listed with its coverage and p95 now and its delta
# against the latest record in REF's own ledgers (read from git, no checkout). New failures,
# regressions and modules newly below target are listed first; unchanged modules are counted. The
# output depends only on the ledgers, the manifests and the diff: no clock, sorted by name.

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from t4tasks.catalog.project import Project
from t4tasks.checks import base_ref, changes, coverage_gate
from t4tasks.ledgers import ledger, record
from t4tasks.outputs.step_summary import cell, number

MARKER = "<!-- t4:pr-report -->"   # the generated workflow finds its own comment by this line


@dataclass(frozen=True)
class Row:
    module: str
    coverage: float | None
    coverage_base: float | None
    p95: float | None
    p95_base: float | None
    target: float | None
    status: str          # the latest coverage run's status
    gate: str            # the coverage gate's verdict now
    flags: tuple[str, ...]


def _latest(path: Path, kind: str) -> dict[str, dict]:
    return ledger.latest(path, kind=kind) if path.exists() else {}


def _latest_at(root: Path, commit: str, relpath: str, kind: str) -> dict[str, dict]:
    """The latest record per module in the ledger ``relpath`` as it was at ``commit``."""
    data = base_ref.show(root, commit, relpath)
    if not data:
        return {}
    with tempfile.TemporaryDirectory(prefix="t4-base-") as scratch:
        path = Path(scratch) / Path(relpath).name
        path.write_bytes(data)
        return _latest(path, kind)


def _p95(entry: dict | None) -> float | None:
    return ((entry or {}).get("summary") or {}).get("p95_ms")


def _ok(entry: dict | None) -> bool:
    return entry is not None and entry.get("status", "ok") == "ok"


def rows(project: Project, ref: str) -> tuple[str, list[Row], int]:
    """(the base commit, a row per changed module, how many modules did not change)."""
    commit = base_ref.verify(project.root, ref)
    changed = changes.changed_modules(project, commit)
    folder = project.config.ledger_dir
    now_cov = _latest(record.ledger_path(project, record.COVERAGE_LEDGER), "coverage")
    now_bench = _latest(record.ledger_path(project, record.BENCH_LEDGER), "bench")
    base_cov = _latest_at(project.root, commit, f"{folder}/{record.COVERAGE_LEDGER}", "coverage")
    base_bench = _latest_at(project.root, commit, f"{folder}/{record.BENCH_LEDGER}", "bench")
    verdicts = {v.module: v for v in coverage_gate.run(project, changed)[0]}
    threshold = project.config.bench_regression_threshold
    found = []
    for module in sorted(changed, key=lambda m: m.name):
        name = module.name
        cov, cov_base = now_cov.get(name), base_cov.get(name)
        bench, bench_base = now_bench.get(name), base_bench.get(name)
        value = lambda e: e.get("coverage") if _ok(e) else None  # noqa: E731
        c, cb, p, pb = value(cov), value(cov_base), _p95(bench), _p95(bench_base)
        target = coverage_gate.target_of(project, module)
        flags = []
        if (cov is not None and not _ok(cov) and _ok(cov_base)) or (bench is not None and not _ok(bench) and _ok(bench_base)):
            flags.append("new failure")
        if (c is not None and cb is not None and c < cb) or (p is not None and pb is not None and p > pb * (1 + threshold)):
            flags.append("regression")
        if target is not None and c is not None and c < target and (cb is None or cb >= target):
            flags.append("newly below target")
        found.append(Row(name, c, cb, p, pb, target, (cov or {}).get("status", "unmeasured"),
                         verdicts[name].status, tuple(flags)))
    return commit, found, len(project.modules) - len(changed)


def _delta(now: float | None, base: float | None, unit: str = "") -> str:
    if now is None or base is None:
        return "new" if now is not None else "—"
    return f"{now - base:+.2f}{unit}"


def markdown(ref: str, commit: str, found: list[Row], unchanged: int) -> str:
    """The comment's text."""
    lines = [MARKER, f"## T4: modules changed since {cell(ref)} ({commit[:12]})", ""]
    flagged = [r for r in found if r.flags]
    if flagged:
        lines += ["### Needs attention", ""]
        lines += [f"- **{cell(r.module)}**: {', '.join(r.flags)}" for r in flagged]
        lines.append("")
    if found:
        lines += ["| Module | Coverage | Δ coverage | Target | p95 (ms) | Δ p95 | Run | Gate |",
                  "|---|---:|---:|---:|---:|---:|---|---|"]
        for r in found:
            lines.append(f"| {cell(r.module)} | {number(r.coverage)} | {_delta(r.coverage, r.coverage_base)} | "
                         f"{number(r.target)} | {number(r.p95)} | {_delta(r.p95, r.p95_base, ' ms')} | "
                         f"{cell(r.status)} | {cell(r.gate)} |")
        lines.append("")
    else:
        lines += ["No module changed.", ""]
    lines.append(f"{len(found)} changed, {unchanged} unchanged module(s) not listed.")
    return "\n".join(lines) + "\n"
