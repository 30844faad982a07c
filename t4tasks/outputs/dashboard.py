"""The dashboard: one static, self-contained HTML page over META, the trends and the report."""
# META_REGISTRY and the validation report.
# ``index.html`` holds everything inline (CSS, a little JavaScript, the charts as SVG) and loads
# nothing at view time, so it opens from a file, an artifact store or an air-gapped machine. It
# shows the validation failures first, then the summary (modules, health average and distribution,
# targets met, lanes), a sortable and filterable table of modules, and one panel per module with
# its health breakdown and its coverage and p95 trend charts.
#
# Charts are drawn by pygal (SVG). pygal is optional: without it the page says so and shows the
# trend numbers as tables. pygal's per-chart noise is removed so the same inputs give the same
# bytes: its random chart id is replaced by one derived from the module name, the comment carrying
# today's date, the configuration script and the per-chart copy of its stylesheet are dropped (one
# copy, scoped by class, sits in the page's stylesheet), and the stdlib ElementTree is used even
# where lxml is installed (the two serialise differently).
#
# Sorting and filtering run in the browser and honour the URL fragment, so a link (or a test) can
# open the page already sorted: ``index.html#sort=-health&filter=core&lane=L2&problems=1``
# (``sort=KEY`` ascending, ``sort=-KEY`` descending; keys: name, lane, owner, health, coverage,
# p95, docs, measured). Unknown values sort last in both directions and show as "—", never 0.

from __future__ import annotations

import csv
import functools
import hashlib
import statistics
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from t4tasks.catalog import templates
from t4tasks.outputs import meta, trends
from t4tasks.speed import atomic

INDEX = "index.html"
OUTPUTS = (INDEX,)
TEMPLATE = "dashboard/index.html.j2"
# every template file the page is made of: hash them into the task's uptodate
TEMPLATE_FILES = ("dashboard/index.html.j2", "dashboard/dashboard.css", "dashboard/dashboard.js")
NO_CHARTS = ("Trend charts need the optional package pygal (pip install pygal); "
             "the trend numbers are shown as tables instead.")
UNKNOWN = "—"
HEALTH_BUCKETS = ((0, 20), (20, 40), (40, 60), (60, 80), (80, 100))
CHART_CLASS = "t4-chart"
MAX_X_LABELS = 7


def render(root: Path, meta: dict, coverage_trend_csv: Path, bench_trend_csv: Path,
           report: dict | None, out_dir: Path) -> list[str]:
    """Write ``out_dir/index.html``; return the names of the files that changed."""
    # A missing trend CSV counts as a trend with no rows.
    page = render_text(root, meta, read_trend(coverage_trend_csv), read_trend(bench_trend_csv), report)
    return [INDEX] if atomic.write_text(Path(out_dir) / INDEX, page) else []


def render_text(root: Path, meta: dict, coverage_rows: list[dict[str, str]],
                bench_rows: list[dict[str, str]], report: dict | None) -> str:
    """The page as text (see ``render``)."""
    import jinja2  # imported on first use, like templates.environment


    env = templates.sandboxed(
        loader=jinja2.FileSystemLoader([str(Path(root) / "templates"), str(templates.packaged_dir())]),
        undefined=jinja2.StrictUndefined, autoescape=True, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE).render(**context(meta, coverage_rows, bench_rows, report))


def template_paths(root: Path) -> list[Path]:
    """The template files in use (the repository's overrides first), for the task's uptodate."""
    return [templates.locate(Path(root), name)[0] for name in TEMPLATE_FILES]


def read_trend(path: Path) -> list[dict[str, str]]:
    """The rows of a trend CSV (``trends.py`` owns the field names); none when the file is missing."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------------------------------------
# the page's data

def context(meta: dict, coverage_rows: list[dict[str, str]], bench_rows: list[dict[str, str]],
            report: dict | None) -> dict[str, Any]:
    from markupsafe import Markup  # jinja2's; the chart stylesheet is ours, not user text

    modules = sorted(meta.get("modules", []), key=lambda m: m["name"])
    coverage_points = _points(coverage_rows, trends.COVERAGE_PCT)
    p95_points = _points(bench_rows, trends.P95_MS)
    charts = _chart_library()
    rows = [_row(m, coverage_points.get(m["name"], []), p95_points.get(m["name"], []), charts)
            for m in modules]
    return {
        "summary": _summary(meta.get("summary") or {}, modules),
        "lanes": _lanes(modules),
        "health_chart": charts.histogram(_distribution(modules)) if charts else None,
        "distribution": _distribution(modules),
        "rows": rows,
        "validation": _validation(report),
        "chart_css": Markup(charts.css) if charts else "",
        "charts_missing": None if charts else NO_CHARTS,
        "as_of": _when(max((r["measured"] for r in rows if r["measured"]), default=None)),
        "unknown": UNKNOWN,
    }


def _row(m: dict, coverage_points: list[tuple], p95_points: list[tuple], charts: Any) -> dict:
    M = meta  # the META document's field names, owned by outputs/meta.py
    cov = m.get(M.COVERAGE) or {}
    perf = m.get(M.PERFORMANCE) or {}
    docs = m.get(M.DOCS) or {}
    sla_p95 = (perf.get(M.SLA) or {}).get(M.P95_MS)
    good = [p for p in docs.get(M.PRESENT, []) if p not in docs.get(M.PLACEHOLDER, [])]
    required = len(docs.get(M.REQUIRED, []))
    measured = max((t for t in (cov.get(M.OBSERVED_AT), perf.get(M.OBSERVED_AT)) if t), default=None)
    chart_id = hashlib.sha256(m[M.NAME].encode("utf-8")).hexdigest()[:12]
    problem = (cov.get(M.MEETS_TARGET) is False or perf.get(M.MEETS_SLA) is False
               or (required and len(good) < required))
    parts = [{"name": name, **part} for name, part in (m.get(M.HEALTH) or {}).items()]
    return {
        "name": m[M.NAME], "anchor": f"module-{m[M.NAME]}", "lane": m.get(M.LANE),
        "owner": m.get(M.OWNER), "path": m.get(M.PATH),
        "health": m.get(M.HEALTH_SCORE), "health_text": _fmt(m.get(M.HEALTH_SCORE)),
        "health_class": _health_class(m.get(M.HEALTH_SCORE)),
        "health_parts": parts,
        # which components the score is a share of (all three in documents written before)
        "health_applied": ", ".join(p["name"] for p in parts if p.get(M.APPLICABLE, True)),
        "health_points": _fmt(m.get(M.HEALTH_POINTS)) if m.get(M.HEALTH_POINTS) is not None else None,
        "health_max": _fmt(m.get(M.HEALTH_APPLICABLE_MAX)) if m.get(M.HEALTH_APPLICABLE_MAX) else None,
        "coverage": cov.get(M.OBSERVED), "coverage_text": _pct(cov.get(M.OBSERVED)),
        "coverage_headline": {"line": "lines", "branch": "lines + branches"}.get(cov.get(M.HEADLINE) or ""),
        "line_text": _pct(cov.get(M.LINE_PCT)), "branch_text": _pct(cov.get(M.BRANCH_PCT)),
        "coverage_target": _pct(cov.get(M.TARGET)), "coverage_delta": _signed(cov.get(M.DELTA)),
        "coverage_class": _verdict(cov.get(M.MEETS_TARGET), cov.get(M.OBSERVED)),
        "coverage_status": "no tests (declared)" if cov.get(M.NO_TESTS) else cov.get(M.STATUS),
        "coverage_reason": cov.get(M.REASON),
        "p95": perf.get(M.P95_MS), "p95_text": _ms(perf.get(M.P95_MS)), "sla_p95": _ms(sla_p95),
        "p95_class": _verdict(perf.get(M.MEETS_SLA), perf.get(M.P95_MS)),
        "perf_reason": perf.get(M.REASON),
        "docs_ratio": len(good) / required if required else None,
        "docs_text": f"{len(good)}/{required}" if required else UNKNOWN,
        "docs_class": "unknown" if not required else "ok" if len(good) == required else "bad",
        "docs_placeholder": docs.get(M.PLACEHOLDER, []),
        "docs_missing": [p for p in docs.get(M.REQUIRED, []) if p not in docs.get(M.PRESENT, [])],
        "measured": measured, "measured_text": _when(measured),
        "problem": bool(problem),
        "coverage_trend": [(d.isoformat(), _fmt(v)) for d, v, _ in coverage_points],
        "p95_trend": [(d.isoformat(), _fmt(v)) for d, v, _ in p95_points],
        "coverage_chart": charts.line(f"cov-{chart_id}", "coverage %", coverage_points,
                                      cov.get(M.TARGET), "target", "%")
        if charts and coverage_points else None,
        "p95_chart": charts.line(f"p95-{chart_id}", "p95 ms", p95_points, sla_p95, "SLA p95", " ms")
        if charts and p95_points else None,
    }


def _points(rows: list[dict[str, str]], field: str) -> dict[str, list[tuple[date, float, str]]]:
    """Per module, its (date, value, fingerprint) trend points in date order."""
    out: dict[str, list[tuple[date, float, str]]] = {}
    for row in rows:
        try:
            day = date.fromisoformat(row.get(trends.DATE) or "")
            value = float(Decimal(row.get(field) or ""))
        except (ValueError, InvalidOperation):  # a value missing or not a number: left out (unknown is not zero)
            continue
        out.setdefault(row.get(trends.MODULE) or "", []).append((day, value, row.get(trends.ENV_FINGERPRINT) or ""))
    return {name: sorted(points) for name, points in sorted(out.items())}


def _summary(summary: dict, modules: list[dict]) -> dict:
    with_target = sum((m.get("coverage") or {}).get("target") is not None for m in modules)
    with_sla = sum(bool((m.get("performance") or {}).get("sla")) for m in modules)
    return {
        "modules": len(modules),
        "avg_health": _fmt(summary.get("avg_health")),
        "median_health": _fmt(summary.get("median_health")),
        "meeting_coverage_target": summary.get("meeting_coverage_target", 0),
        "with_target": with_target,
        "with_coverage": summary.get("with_coverage", 0),
        "meeting_sla": summary.get("meeting_sla", 0),
        "with_sla": with_sla,
        "with_benchmarks": summary.get("with_benchmarks", 0),
    }


def _lanes(modules: list[dict]) -> list[dict]:
    lanes: dict[str, list[dict]] = {}
    for m in modules:
        lanes.setdefault(m.get("lane") or "none", []).append(m)
    out = []
    for lane, members in sorted(lanes.items()):
        scores = [m["health_score"] for m in members if m.get("health_score") is not None]
        out.append({
            "lane": lane, "modules": len(members),
            "avg_health": _fmt(round(statistics.fmean(scores), 2)) if scores else UNKNOWN,
            "meeting_target": sum((m.get("coverage") or {}).get("meets_target") is True for m in members),
            "meeting_sla": sum((m.get("performance") or {}).get("meets_sla") is True for m in members),
        })
    return out


def _distribution(modules: list[dict]) -> list[dict]:
    counts = []
    for low, high in HEALTH_BUCKETS:
        last = high == HEALTH_BUCKETS[-1][1]
        n = sum(1 for m in modules if m.get("health_score") is not None
                and low <= m["health_score"] and (m["health_score"] < high or last))
        counts.append({"label": f"{low}–{high}", "count": n})
    return counts


def _validation(report: dict | None) -> dict | None:
    if report is None:
        return None
    failed = []
    for check in report.get("checks", []):
        if check.get("status") == "fail":
            problems = list(check.get("problems", []))
            failed.append({"name": check.get("name"), "problems": problems[:50],
                           "more": max(0, len(problems) - 50), "reason": check.get("reason")})
    summary = report.get("summary") or {}
    return {"ok": bool(report.get("ok")), "failed": failed,
            "passed": summary.get("pass", 0), "skipped": summary.get("skipped", 0),
            "checks": summary.get("checks", len(report.get("checks", [])))}


# ---------------------------------------------------------------------------------------------
# formatting: unknown is "—", never 0

def _fmt(value: float | None, places: int = 2) -> str:
    if value is None:
        return UNKNOWN
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(value: float | None) -> str:
    return UNKNOWN if value is None else f"{_fmt(value)}%"


def _signed(value: float | None) -> str:
    return "" if value is None else ("+" if value > 0 else "") + _fmt(value)


def _ms(value: float | None) -> str:
    if value is None:
        return UNKNOWN
    return f"{_fmt(value, 0 if value >= 100 else 1 if value >= 10 else 2)} ms"


def _when(ts: str | None) -> str:
    if not ts:
        return UNKNOWN
    try:
        return datetime.fromisoformat(ts).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return ts


def _verdict(meets: bool | None, value: float | None) -> str:
    if value is None:
        return "unknown"
    return "ok" if meets is True else "bad" if meets is False else "neutral"


def _health_class(score: float | None) -> str:
    if score is None:
        return "unknown"
    return "bad" if score < 40 else "warn" if score < 60 else "fair" if score < 80 else "ok"


# ---------------------------------------------------------------------------------------------
# charts (pygal, optional)

def _chart_library() -> "_Charts | None":
    try:
        import pygal  # noqa: F401
    except ImportError:
        return None
    return _Charts()


class _Charts:
    """pygal charts as deterministic inline SVG; ``css`` is the one stylesheet they share."""

    def __init__(self) -> None:
        import pygal
        from pygal.etree import etree
        from pygal.style import Style

        if etree.lxml:  # lxml and ElementTree serialise differently: one output everywhere
            etree.to_etree()
        self.pygal = pygal
        self.style = Style(
            background="transparent", plot_background="#ffffff", foreground="#374151",
            foreground_strong="#111827", foreground_subtle="#9ca3af", opacity=".9",
            opacity_hover="1", transition="0ms", colors=("#2563eb", "#ea580c"),
            guide_stroke_color="#e5e7eb", major_guide_stroke_color="#d1d5db",
            guide_stroke_dasharray="0", major_guide_stroke_dasharray="0",
            font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            label_font_size=11, major_label_font_size=11, legend_font_size=11,
            value_font_size=11, tooltip_font_size=11, title_font_size=13,
        )
        # a chart with every series a real chart can have, rendered once, donates the stylesheet
        captured: list[str] = []
        donor = self._line_chart("donor", "donor", [(date(2000, 1, 1), 1.0, "")], 1.0, "reference", "")
        donor.add_xml_filter(functools.partial(_strip, titles=[], keep_style=captured))
        donor.render(is_unicode=True)
        self.css = captured[0].replace("#chart-donor", f"svg.{CHART_CLASS}") if captured else ""

    def _line_chart(self, chart_id: str, name: str, points: list[tuple[date, float, str]],
                    reference: float | None, reference_name: str, unit: str):
        chart = self.pygal.DateLine(
            style=self.style, width=560, height=240, explicit_size=False, js=[],
            classes=["pygal-chart", CHART_CLASS], disable_xml_declaration=True, pretty_print=False,
            show_legend=reference is not None, legend_at_bottom=True, legend_box_size=10,
            x_value_formatter=lambda d: d.strftime("%Y-%m-%d"), x_label_rotation=20,
            truncate_label=-1, dots_size=3, show_x_guides=False, margin=6, max_scale=6, min_scale=3,
            value_formatter=lambda v: f"{_fmt(v)}{unit}",
        )
        days = sorted({d for d, _, _ in points})
        step = -(-len(days) // MAX_X_LABELS)  # at most MAX_X_LABELS labels, always on data days
        chart.x_labels = days[::step]
        chart.uuid = chart_id
        chart.add(name, [(d, v) for d, v, _ in points])
        if reference is not None:
            chart.add(reference_name, [(points[0][0], reference), (points[-1][0], reference)],
                      show_dots=False, stroke_style={"width": 1.5, "dasharray": "6,4"})
        return chart

    def line(self, chart_id: str, name: str, points: list[tuple[date, float, str]],
             reference: float | None, reference_name: str, unit: str) -> str:
        """A trend chart: one dot per trend row, and a dashed line at the target when known."""
        from markupsafe import Markup

        chart = self._line_chart(chart_id, name, points, reference, reference_name, unit)
        titles = [f"{d.isoformat()}: {_fmt(v)}{unit}" + (f" (env {fp[:8]})" if fp else "")
                  for d, v, fp in points]
        chart.add_xml_filter(functools.partial(_strip, titles=titles, keep_style=None))
        return Markup(chart.render(is_unicode=True))

    def histogram(self, buckets: list[dict]) -> str:
        from markupsafe import Markup

        chart = self.pygal.Bar(
            style=self.style, width=420, height=200, explicit_size=False, js=[],
            classes=["pygal-chart", CHART_CLASS], disable_xml_declaration=True, pretty_print=False,
            show_legend=False, print_values=True, margin=6, show_y_labels=False, show_y_guides=False,
        )
        chart.uuid = "health-distribution"
        chart.x_labels = [b["label"] for b in buckets]
        chart.add("modules", [b["count"] for b in buckets])
        chart.add_xml_filter(functools.partial(_strip, titles=[], keep_style=None))
        return Markup(chart.render(is_unicode=True))


def _strip(root, titles: list[str], keep_style: list[str] | None):
    """pygal XML filter: drop what the page does not need; add a native tooltip to each dot."""
    from pygal.etree import etree

    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag
            # comments (one carries today's date), the config script, the data only pygal's
            # (network-loaded) tooltip script reads (``<desc>``)
            if tag is etree.Comment or tag in ("script", "desc"):
                parent.remove(child)
            elif tag == "style":  # the per-chart stylesheet, captured into ``keep_style`` when given
                if keep_style is not None:
                    keep_style.append(child.text or "")
                parent.remove(child)
    # the tooltip: a ``<title>`` on each dot of the first series, in order
    if titles:
        first = next((g for g in root.iter("g") if "serie-0" in (g.get("class") or "").split()), None)
        dots = [c for c in first.iter("circle") if "dot" in (c.get("class") or "").split()] if first is not None else []
        for dot, text in zip(dots, titles):
            etree.SubElement(dot, "title").text = text
    return root
