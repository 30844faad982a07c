"""The dashboard: a static, self-contained, deterministic page, checked as text and in Chromium.

The data comes from a realistic temporary repository run through T4's own code: manifests with
lanes, owners and SLAs, README files (one an untouched scaffold), coverage and benchmark ledgers
over several days, then ``trends.render`` and ``trends.write``, ``validate.build_meta`` and ``validate.run``.

The Chromium tests start Debian's ``chromium`` headless (skipped when it is absent). With
``T4_UPDATE_SCREENSHOT=1`` the screenshot is copied to ``docs/dashboard.png``.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from t4tasks.catalog import docmap, registry
from t4tasks import products
from t4tasks.catalog.project import Project
from t4tasks.checks import validate
from t4tasks.ledgers import ledger
from t4tasks.outputs import dashboard, trends
from t4tasks.scaffolding import marker
from t4tasks.speed import atomic
from tests.support import REPO, make_repo, manifest

CHROMIUM = Path("/usr/bin/chromium")
START = datetime(2026, 10, 1, 9, 30, tzinfo=timezone.utc)

# name: (lane, owner, coverage target, p95 SLA, daily coverage, daily p95, README)
# None in a daily series = no measurement that day; README: True, False (missing) or "scaffold"
MODULES = {
    "analytics": ("L1", "data-platform", None, 40.0, [61.0, 64.5, 66.0, 71.2], [31.0, 33.5, 35.1], True),
    "api": ("L2", "platform", None, 120.0, [78.0, 79.5, 81.0, 82.25, 83.0, 84.1], [95.0, 101.0, 99.0, 97.5, 96.0], True),
    "billing": ("L3", "payments", None, 50.0, [88.0, 87.5, 86.0], [52.0, 55.5], True),
    "bridge": ("L0", "integrations", None, None, [42.0, 45.0], [], False),
    "consent": ("L2", "privacy", 90.0, 20.0, [91.0, 92.4, 93.0, 93.5, 95.0], [12.0, 12.5, 11.8, 12.2], True),
    "core": ("L3", "platform", None, 5.0, [90.1, 90.5, 91.2, 92.0, 92.8, 93.4, 94.0], [2.1, 2.2, 2.05, 2.3, 2.25, 2.4, 2.35], True),
    "governance": ("L1", "compliance", None, None, [], [], "scaffold"),
    "identity": ("L2", "security", None, 80.0, [70.0, 72.0, 74.5, 76.0, 79.9], [60.0, 64.0, 70.0, 85.0], True),
    "legacy_reports": (None, None, None, None, [0.0], [], False),
    "memory": ("L2", "cognition", None, 200.0, [55.0, 60.0, 58.0, 66.0, 70.5, 73.0], [150.0, 180.0, 210.0, 190.0], True),
    "orchestration": ("L1", "cognition", None, 300.0, [None, 48.0, 50.5], [250.0, 320.0], "scaffold"),
    "search": ("L2", "discovery", None, 150.0, [81.0, 82.0, 83.5, 85.0], [110.0, 120.0, 118.0], True),
    "telemetry": ("L0", "observability", None, None, [35.0, 38.0, 41.0], [], True),
    "vision": ("L3", None, None, 250.0, [], [], True),
}


def _manifest(name: str, lane, owner, target, sla) -> dict:
    data = manifest(name)
    if lane is None:
        data.pop("matrix")
    else:
        data["matrix"] = {"lane": lane}
    if owner:
        data["ownership"] = {"team": owner}
    if target is not None:
        data["testing"] = {"coverage_target": target}
    if sla is not None:
        data["performance"] = {"sla": {"latency_p95_ms": sla, "latency_p99_ms": sla * 2}}
    return data


def build_realistic_repo(root: Path) -> dict:
    """A repository with measured history; returns meta, report and the trend CSV paths."""
    files = {"pyproject.toml": "[project]\nname = 'demo'\n"}
    for name, (lane, owner, target, sla, _, _, readme) in MODULES.items():
        files[f"{name}/__init__.py"] = f'"""The {name} module."""\n'
        files[f"{name}/tests/test_{name}.py"] = "def test_ok():\n    assert True\n"
        if readme is True:
            files[f"{name}/README.md"] = f"# {name}\n\nWhat {name} does, written by a human.\n"
        elif readme == "scaffold":
            files[f"{name}/README.md"] = marker.stamp(f"# {name}\n\nTODO: describe {name}.\n",
                                                      "module/README.md.j2", "3")
    make_repo(root, {name: _manifest(name, *spec[:4]) for name, spec in MODULES.items()}, files)
    ledger_dir = root / "manifests" / ".ledger"
    for name, (*_, daily_cov, daily_p95, _) in MODULES.items():
        for day, value in enumerate(daily_cov):
            ts = START + timedelta(days=3 * day, minutes=len(name))
            status = "ok" if value is not None else "crashed"
            ledger.append(ledger_dir / "coverage.ndjson", ledger.new_record(
                "coverage", name, {"coverage": value, "status": status,
                                   "tests": {"passed": 12, "failed": 0, "errors": 0, "skipped": 1}},
                f"cov-{name}-{day}", ts=ts, git_commit="0" * 40))
        for day, p95 in enumerate(daily_p95):
            ts = START + timedelta(days=3 * day, hours=1, minutes=len(name))
            summary = {"p50_ms": round(p95 * 0.8, 4), "p95_ms": p95, "p99_ms": round(p95 * 1.1, 4),
                       "benchmark": f"benchmarks/{name}/test_bench.py::test_hot_path"}
            ledger.append(ledger_dir / "bench.ndjson", ledger.new_record(
                "bench", name, {"summary": summary, "status": "ok", "env_fingerprint": "f" * 64},
                f"bench-{name}-{day}", ts=ts, git_commit="0" * 40))
    trends.write(root / "trends", trends.render(ledger_dir)[0])
    project = Project.load(root)
    generated = root / project.config.generated_dir  # what `t4` would have generated
    reg = registry.build(project)
    atomic.write_json(generated / registry.REGISTRY_NAME, reg)
    for name, text in docmap.render_texts(root, reg, project.config.generated_dir).items():
        atomic.write_text(generated / name, text)
    built = products.build_meta(project)
    atomic.write_bytes(generated / "META_REGISTRY.json", built.content)
    meta = orjson.loads(built.content)
    report = validate.report(validate.run(project))
    return {"meta": meta, "report": report, "coverage_csv": root / "trends" / trends.COVERAGE_TREND,
            "bench_csv": root / "trends" / trends.BENCH_TREND}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("dashboard")
    with pytest.MonkeyPatch.context() as patch:  # never part of an enclosing git work tree
        patch.setenv("GIT_CEILING_DIRECTORIES", str(base.resolve()))
        data = build_realistic_repo(base / "repo")
    out = base / "out"
    changed = dashboard.render(base / "repo", data["meta"], data["coverage_csv"], data["bench_csv"],
                               data["report"], out)
    return {**data, "root": base / "repo", "out": out, "changed": changed,
            "html": (out / dashboard.INDEX).read_text("utf-8")}


def _rows(html: str) -> list[str]:
    """Module names of the table's rows, in DOM order."""
    body = html.split('id="modules"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-module="([^"]+)"', body)


def _row_html(html: str, name: str) -> str:
    body = html.split('id="modules"', 1)[1].split("</table>", 1)[0]
    return re.search(rf'<tr data-module="{re.escape(name)}".*?</tr>', body, re.S).group(0)


def _trend_counts(path: Path, module: str) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(row["module"] == module for row in csv.DictReader(handle))


def _figure(html: str, kind: str, module: str) -> str:
    match = re.search(rf'<figure class="trend" data-kind="{kind}" data-module="{re.escape(module)}".*?</figure>',
                      html, re.S)
    assert match, f"no {kind} figure for {module}"
    return match.group(0)


def _dots(figure: str) -> int:
    return len(re.findall(r'<circle[^>]*class="dot[ "]', figure))


# ---------------------------------------------------------------------------------------------
# the page as text

def test_page_is_written_and_reports_the_change(demo):
    assert demo["changed"] == [dashboard.INDEX]
    assert _rows(demo["html"]) == sorted(MODULES)
    again = dashboard.render(demo["root"], demo["meta"], demo["coverage_csv"], demo["bench_csv"],
                             demo["report"], demo["out"])
    assert again == []  # unchanged inputs: nothing rewritten


def test_same_inputs_give_the_same_bytes(demo, tmp_path):
    other = tmp_path / "again"
    dashboard.render(demo["root"], demo["meta"], demo["coverage_csv"], demo["bench_csv"], demo["report"], other)
    assert (other / dashboard.INDEX).read_bytes() == (demo["out"] / dashboard.INDEX).read_bytes()
    # nothing from the clock: neither today's date nor pygal's random chart ids
    html = demo["html"]
    assert datetime.now(timezone.utc).date().isoformat() not in html
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", html)


def test_page_is_self_contained(demo):
    html = demo["html"]
    assert "<svg" in html and "<style>" in html and "<script>" in html
    assert not re.search(r"""<(?:link|img|iframe)\b""", html, re.I)
    assert not re.search(r"""<script[^>]+src""", html, re.I)
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#)""", html, re.I)   # only in-page anchors
    assert not re.search(r"""url\(\s*["']?(?!#)""", html, re.I)            # no external CSS assets
    assert "@import" not in html and "xml-stylesheet" not in html
    # the only URLs left are XML namespace names, which browsers never fetch
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg",
                                                              "http://www.w3.org/1999/xlink"}


def test_unknown_shows_a_dash_and_measured_zero_shows_zero(demo):
    never = _row_html(demo["html"], "vision")          # no ledger entry at all
    zero = _row_html(demo["html"], "legacy_reports")    # measured 0.0 %, no lane, no owner
    assert re.search(r'<td class="coverage unknown"[^>]*>— ', never)
    assert 'data-sort-coverage=""' in never and 'data-sort-p95=""' in never
    assert re.search(r'<td class="coverage [a-z]+"[^>]*>0% ', zero)
    assert 'data-sort-coverage="0.0"' in zero
    assert "<td>—</td>" in zero  # lane and owner unknown


def test_summary_matches_the_meta_registry(demo):
    html, summary = demo["html"], demo["meta"]["summary"]
    assert f'<span class="value" id="count-modules">{summary["modules"]}</span>' in html
    assert f'<span class="value">{dashboard._fmt(summary["avg_health"])}</span>' in html
    lanes = re.findall(r'<tr data-lane="([^"]+)"><td>[^<]+</td><td>(\d+)</td>', html)
    assert {lane: int(n) for lane, n in lanes} == {lane: v["modules"] for lane, v in summary["by_lane"].items()}
    assert sum(b["count"] for b in dashboard._distribution(demo["meta"]["modules"])) == len(MODULES)


def test_validation_failures_come_first(demo):
    failed = [c for c in demo["report"]["checks"] if c["status"] == "fail"]
    assert failed, "the demo repository is expected to fail some checks (e.g. coverage below target)"
    html = demo["html"]
    table_at = html.index('id="modules"')
    for check in failed:
        assert html.index(f'data-check="{check["name"]}"') < table_at
        shown = check["problems"][0].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert shown.replace('"', "&#34;").replace("'", "&#39;") in html


def test_each_trend_chart_has_one_dot_per_trend_row(demo):
    for name in MODULES:
        for kind, csv_path in (("coverage", demo["coverage_csv"]), ("p95", demo["bench_csv"])):
            rows = _trend_counts(csv_path, name)
            figure = _figure(demo["html"], kind, name)
            assert _dots(figure) == rows, (name, kind)
            assert ("<svg" in figure) == (rows > 0), (name, kind)
    # a target is drawn as a line, not as extra dots
    assert "target" in _figure(demo["html"], "coverage", "api")


def test_without_pygal_the_page_says_so_and_still_shows_the_numbers(demo, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pygal", None)  # import pygal -> ImportError
    dashboard.render(demo["root"], demo["meta"], demo["coverage_csv"], demo["bench_csv"], demo["report"], tmp_path)
    html = (tmp_path / dashboard.INDEX).read_text("utf-8")
    assert dashboard.NO_CHARTS in html
    assert "<svg" not in html
    assert _rows(html) == sorted(MODULES)
    assert "<td>2026-10-01</td><td>78%</td>" in _figure(html, "coverage", "api")


def test_a_repository_template_overrides_the_packaged_one(demo, tmp_path):
    root = tmp_path / "repo"
    (root / "templates" / "dashboard").mkdir(parents=True)
    for name in dashboard.TEMPLATE_FILES:
        shutil.copy(dashboard.template_paths(REPO)[dashboard.TEMPLATE_FILES.index(name)],
                    root / "templates" / name)
    custom = root / "templates" / "dashboard" / "index.html.j2"
    custom.write_text(custom.read_text("utf-8").replace("Module dashboard", "Our modules"), "utf-8")
    page = dashboard.render_text(root, demo["meta"], [], [], None)
    assert "<h1>Our modules</h1>" in page and "No validation report" in page
    assert dashboard.template_paths(root)[0] == custom


# ---------------------------------------------------------------------------------------------
# the page in a browser

def _chromium(page: Path, fragment: str, tmp_path: Path, screenshot: Path | None = None) -> str:
    """Load ``page#fragment`` in headless Chromium; return the DOM after scripts ran."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    argv = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1400,1500",
            "--virtual-time-budget=3000", "--dump-dom"]
    if screenshot is not None:
        argv.append(f"--screenshot={screenshot}")
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    proc = subprocess.run(argv + [url], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed")


def _health_order(meta: dict, descending: bool) -> list[str]:
    scores = {m["name"]: m["health_score"] for m in meta["modules"]}
    return sorted(scores, key=lambda n: ((-scores[n] if descending else scores[n]), n))


@needs_chromium
def test_browser_shows_the_table_and_a_screenshot(demo, tmp_path):
    shot = tmp_path / "dashboard.png"
    dom = _chromium(demo["out"] / dashboard.INDEX, "", tmp_path, screenshot=shot)
    assert _rows(dom) == sorted(MODULES)
    assert 'data-sorted="name"' in dom  # the page's script ran
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a drawn page, not a blank one
    if os.environ.get("T4_UPDATE_SCREENSHOT") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, REPO / "docs" / "dashboard.png")


@needs_chromium
def test_browser_sorts_by_health_from_the_url(demo, tmp_path):
    page = demo["out"] / dashboard.INDEX
    ascending, descending = _health_order(demo["meta"], False), _health_order(demo["meta"], True)
    assert ascending != sorted(MODULES)  # sorting must visibly reorder the rows
    dom = _chromium(page, "sort=health", tmp_path)
    assert 'data-sorted="health"' in dom and _rows(dom) == ascending
    dom = _chromium(page, "sort=-health", tmp_path)
    assert 'data-sorted="-health"' in dom and _rows(dom) == descending


@needs_chromium
def test_browser_puts_unknown_last_and_filters(demo, tmp_path):
    page = demo["out"] / dashboard.INDEX
    dom = _chromium(page, "sort=coverage", tmp_path)
    order = _rows(dom)
    assert order[0] == "legacy_reports"              # measured 0 % is the lowest known value
    assert set(order[-2:]) == {"governance", "vision"}  # never measured: last, not first
    order = _rows(_chromium(page, "sort=-coverage", tmp_path))
    assert order[0] == "consent" and order[-3:] == ["legacy_reports", "governance", "vision"]
    dom = _chromium(page, "sort=-coverage&lane=L2&filter=CO", tmp_path)
    visible = [n for n in _rows(dom) if not re.search(rf'<tr data-module="{n}"[^>]*\bhidden\b', dom)]
    coverage = {m["name"]: m["coverage"]["observed"] for m in demo["meta"]["modules"]}
    expected = sorted((n for n, spec in MODULES.items()
                       if spec[0] == "L2" and "co" in f"{n} {spec[1]}"), key=lambda n: -coverage[n])
    assert visible == expected == ["consent", "search", "memory"]  # "co": consent, discovery, cognition
    assert f'<span id="shown">{len(expected)}</span>' in dom


@needs_chromium
def test_browser_draws_one_dot_per_trend_row(demo, tmp_path):
    dom = _chromium(demo["out"] / dashboard.INDEX, "module-core", tmp_path)
    assert re.search(r'<details class="panel" id="module-core" data-module="core" open', dom)
    for kind, csv_path in (("coverage", demo["coverage_csv"]), ("p95", demo["bench_csv"])):
        rows = _trend_counts(csv_path, "core")
        assert rows == 7
        assert _dots(_figure(dom, kind, "core")) == rows
