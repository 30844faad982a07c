"""Tasks that draw documents from the registry and ledgers: META, trends, dashboard, badges."""

from __future__ import annotations

import posixpath

import orjson
from doit.exceptions import TaskFailed
from doit.tools import config_changed

from t4tasks import headstart, products
from t4tasks.catalog import registry
from t4tasks.checks import validate
from t4tasks.ledgers import ledger, record, records
from t4tasks.measure import inputs
from t4tasks.outputs import meta, trends
from t4tasks.speed import atomic, digests
from t4tasks.tasks.common import (
    MODULE_PARAM,
    _contents,
    _existing,
    _generated,
    _ledgers,
    _registry_settings,
    _report_problems,
    _run_modules,
    _settings,
    current,
    plan,
)


def task_meta_registry():
    """Fuse the registry with the latest ledger records → META_REGISTRY.json with health scores."""
    project = current()
    out = project.config.generated_dir
    docs = _contents(project, "docs", plan(project)["docs"])

    def write() -> None:
        headstart.ledgers_read(project)
        built = products.build_meta(project)
        atomic.write_bytes(project.root / out / meta.META_NAME, built.content)
        summary = built.summary
        print(f"{out}/{meta.META_NAME}: {summary['modules']} modules, average health {summary['avg_health']}")

    return {
        "actions": [write],
        "file_dep": [f"{out}/{registry.REGISTRY_NAME}", *_ledgers(project)],
        "targets": [f"{out}/{meta.META_NAME}"],
        "uptodate": [config_changed(_registry_settings(project, docs=docs))],
        "task_dep": ["registry"],
        "verbosity": 2,
        "clean": True,
    }


def task_metrics():
    """Prometheus gauges per module (coverage, health, latency, SLA) → docs/_generated/metrics.prom."""
    # Gauges: coverage, line and branch %, health, p50/p95/p99, SLA met, last measured.
    from t4tasks.outputs import metrics
    project = current()
    coverage_ledger = _existing(project, f"{project.config.ledger_dir}/{record.COVERAGE_LEDGER}")

    def write() -> None:
        meta_data = orjson.loads((project.root / _generated(project, meta.META_NAME)).read_bytes())
        latest = ledger.latest(project.root / coverage_ledger[0], kind="coverage") if coverage_ledger else {}
        atomic.write_text(project.root / _generated(project, metrics.METRICS_NAME), metrics.render(meta_data, latest))
        print(_generated(project, metrics.METRICS_NAME))

    return {
        "actions": [write],
        "file_dep": [_generated(project, meta.META_NAME), *coverage_ledger],
        "targets": [_generated(project, metrics.METRICS_NAME)],
        "task_dep": ["meta_registry"],
        "uptodate": [config_changed(_settings(project))],
        "clean": True,
    }


def task_trends():
    """Daily coverage and p95 trends from the ledgers → trends/*.csv."""
    project = current()
    out = project.config.trends_dir

    def write() -> None:
        texts, problems = products.build_trends(project)
        trends.write(project.root / out, texts)
        _report_problems(problems, "t4: warning: ledger lines skipped")

    return {
        "actions": [write],
        "file_dep": _ledgers(project),
        "targets": [f"{out}/{trends.COVERAGE_TREND}", f"{out}/{trends.BENCH_TREND}"],
        "uptodate": [config_changed(_settings(project))],
        "clean": True,
    }


def task_dashboard():
    """Static HTML dashboard (no network at view time) → docs/_generated/dashboard/index.html."""
    from t4tasks.outputs import dashboard
    project = current()
    trends_dir = project.config.trends_dir
    csvs = _existing(project, f"{trends_dir}/{trends.COVERAGE_TREND}", f"{trends_dir}/{trends.BENCH_TREND}")
    report = _existing(project, _generated(project, validate.REPORT_JSON))
    templates_used = {str(p): digests.sha256_of(p) for p in dashboard.template_paths(project.root)}

    def render() -> None:
        meta_data = orjson.loads((project.root / _generated(project, meta.META_NAME)).read_bytes())
        report_data = orjson.loads((project.root / report[0]).read_bytes()) if report else None
        root = project.root
        dashboard.render(root, meta_data, root / trends_dir / trends.COVERAGE_TREND,
                         root / trends_dir / trends.BENCH_TREND, report_data,
                         root / _generated(project, "dashboard"))
        print(f"{_generated(project, 'dashboard', dashboard.INDEX)}")

    # the validation report is read when present but is not a file_dep: a failing validate must
    # not stop the page that shows its failures from being drawn
    report_hash = digests.sha256_of(project.root / report[0]) if report else None
    return {
        "actions": [render],
        "file_dep": [_generated(project, meta.META_NAME), *csvs],
        "targets": [_generated(project, "dashboard", name) for name in dashboard.OUTPUTS],
        "uptodate": [config_changed(_settings(project, templates=sorted(templates_used.values()),
                                              report=report_hash))],
        "clean": True,
    }


def task_badges():
    """Coverage, health and p95 SVG badges per module → docs/_generated/badges/<module>/."""
    from t4tasks.outputs import badges
    project = current()
    out = _generated(project, "badges")

    def render() -> None:
        meta_data = orjson.loads((project.root / _generated(project, meta.META_NAME)).read_bytes())
        changed = badges.render(meta_data, project.root / out)
        print(f"{out}: {len(changed)} badge(s) changed")

    return {
        "actions": [render],
        "file_dep": [_generated(project, meta.META_NAME)],
        "targets": [f"{out}/{t}" for t in badges.targets([m.name for m in project.modules])],
        "uptodate": [config_changed(_settings(project))],
        "clean": True,
    }


def task_readme_badges():
    """Insert or update each module README's badge line between <!-- t4:badges --> markers."""
    from t4tasks.outputs import badges
    project = current()

    def run(apply: bool, module: str):
        modules = [project.by_name[module]] if module in project.by_name else list(_run_modules(project))
        changed_files, errors = [], []
        for m in modules:
            readme = project.root / (m.path if m.path != "." else "") / "README.md"
            if not readme.is_file():
                continue
            badge_dir = posixpath.relpath(_generated(project, "badges", m.name), m.path)
            try:
                changed, diff = badges.update_readme(readme, badges.markdown(m.name, badge_dir), apply=apply)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            if changed:
                changed_files.append(readme.relative_to(project.root).as_posix())
                print(diff)
        # a dry run unless --apply; ledgered when applied
        if apply and changed_files:
            ledger.append(record.ledger_path(project, records.ledger_file(records.README_BADGES)),
                          ledger.new_record(records.README_BADGES, "*", {"files": changed_files},
                                            inputs.input_digest(project.root, changed_files, {"kind": "readme_badges"})))
        verb = "updated" if apply else "would update"
        print(f"{len(changed_files)} README(s) {verb}" + ("" if apply else "; run with --apply to write"))
        return TaskFailed("\n".join(errors)) if errors else None

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [MODULE_PARAM, {"name": "apply", "long": "apply", "type": bool, "default": False,
                                      "help": "write the READMEs"}]}
