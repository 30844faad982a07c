"""GitHub Actions step summaries written by validate and the gates."""
# Markdown appended to ``$GITHUB_STEP_SUMMARY`` by validate and the gates, failures first, then a
# per-module table. Nothing is written when it is unset.

from __future__ import annotations

import os

import orjson

from t4tasks import products
from t4tasks.catalog import templates
from t4tasks.catalog.project import Project

ENV = "GITHUB_STEP_SUMMARY"
MAX_ROWS = 300        # GitHub refuses a step summary over 1 MiB: the table lists this many modules
MAX_FAILURES = 200

def cell(value: object) -> str:
    """Text shown literally in a Markdown table cell (see ``templates.markdown_cell``)."""
    return str(templates.markdown_cell(value))


def number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _yes_no(value: bool | None) -> str:
    return "—" if value is None else ("met" if value else "**missed**")


def table(meta: dict, names: set[str] | None = None) -> list[str]:
    """The per-module table of META_REGISTRY's modules (all, or those in ``names``)."""
    modules = [m for m in meta.get("modules", []) if names is None or m["name"] in names]
    lines = ["| Module | Lane | Health | Coverage | Δ to target | p95 (ms) | SLA |",
             "|---|---|---:|---:|---:|---:|---|"]
    for m in sorted(modules, key=lambda m: m["name"])[:MAX_ROWS]:
        coverage, performance = m["coverage"], m["performance"]
        delta = coverage.get("delta")
        lines.append(f"| {cell(m['name'])} | {cell(m.get('lane') or '—')} | {number(m.get('health_score'), 1)} | "
                     f"{number(coverage.get('observed'))} | {'—' if delta is None else f'{delta:+.2f}'} | "
                     f"{number(performance.get('p95_ms'))} | {_yes_no(performance.get('meets_sla'))} |")
    if len(modules) > MAX_ROWS:
        lines.append(f"\n… and {len(modules) - MAX_ROWS} more modules (see META_REGISTRY.json).")
    return lines


def render(title: str, failures: list[tuple[str, str]], meta: dict | None, names: set[str] | None = None) -> str:
    """The summary: a heading with the verdict, each failure with its reason, the module table."""
    verdict = f"❌ {len(failures)} failure(s)" if failures else "✅ pass"
    lines = [f"## T4 {cell(title)}: {verdict}", ""]
    if failures:
        lines += [f"- **{cell(what)}**: {cell(reason)}" for what, reason in failures[:MAX_FAILURES]]
        if len(failures) > MAX_FAILURES:
            lines.append(f"- … and {len(failures) - MAX_FAILURES} more")
        lines.append("")
    if meta is not None:
        lines += [*table(meta, names), ""]
    return "\n".join(lines) + "\n"


def _meta(project: Project) -> dict | None:
    """META_REGISTRY's document as the ledgers stand now (a gate may run before validate)."""
    try:
        return orjson.loads(products.build_meta(project).content)
    except Exception as exc:  # the summary is a courtesy: it never hides the gate's own verdict
        print(f"t4: warning: step summary without its module table: {type(exc).__name__}: {exc}")
        return None


def append(project: Project, title: str, failures: list[tuple[str, str]], names: set[str] | None = None) -> None:
    """Append the summary to ``$GITHUB_STEP_SUMMARY`` when it is set (GitHub's own append-only file)."""
    path = os.environ.get(ENV)
    if not path:
        return
    text = render(title, failures, _meta(project), names)
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        print(f"t4: warning: {path}: cannot append the step summary: {exc.strerror}")
