"""Gates and the validation checkpoint: compare, never produce."""

from __future__ import annotations

from pathlib import Path

from doit.exceptions import TaskError, TaskFailed
from doit.tools import config_changed

from t4tasks.catalog import docmap, registry
from t4tasks.catalog.project import Project
from t4tasks.checks import validate
from t4tasks.outputs import meta, step_summary, trends
from t4tasks.tasks.common import (
    CHANGED_SINCE,
    _contents,
    _ledgers,
    _registry_settings,
    _report_problems,
    _selected,
    current,
    plan,
)


def _gate(kind: str, project: Project, changed_since: str, judge):
    """Judge the selected modules, print one line each and a count; fail when any fails."""
    from t4tasks.checks import changes
    try:
        modules = _selected(project, changed_since)
    except changes.ChangesError as exc:
        return TaskFailed(str(exc))
    verdicts, problems = judge(modules)
    _report_problems(problems, "t4: warning: ledger lines skipped")
    for verdict in verdicts:
        print(verdict.line())
    failed = [v for v in verdicts if v.failed]
    print(f"{kind} gate: {len(verdicts) - len(failed)} of {len(verdicts)} modules pass")
    step_summary.append(project, f"{kind} gate", [(v.module, " ".join(v.line().split()[1:])) for v in failed],
                        {v.module for v in verdicts})
    return TaskFailed(f"{len(failed)} module(s) fail the {kind} gate") if failed else None


def task_coverage_gate():
    """Fail when a module is below its coverage target, unmeasured, stale or failing."""
    from t4tasks.checks import coverage_gate
    project = current()

    def gate(changed_since: str, ratchet: bool):
        return _gate("coverage", project, changed_since,
                     lambda modules: coverage_gate.run(project, modules, ratchet=ratchet))

    return {
        "actions": [gate],
        "params": [CHANGED_SINCE, {"name": "ratchet", "long": "ratchet", "type": bool, "default": False,
                                   "help": "also fail a module whose coverage dropped below its last value"}],
        "uptodate": [False],
        "verbosity": 2,
    }


def task_bench_gate():
    """Fail when a benchmarked module misses its SLA, regresses, or is unmeasured or stale."""
    from t4tasks.checks import bench_gate
    project = current()

    def gate(changed_since: str):
        return _gate("bench", project, changed_since,
                     lambda modules: bench_gate.run(project, [m for m in modules if m.bench_paths or m.has_sla]))

    return {"actions": [gate], "params": [CHANGED_SINCE], "uptodate": [False], "verbosity": 2}


def task_docs_check():
    """Check module docs: front matter, relative links and anchors, required docs."""
    project = current()

    def run():
        result = validate.check_docs(project)
        for problem in result.problems:
            print(problem)
        print(f"docs: {result.status}")
        return TaskFailed(f"{len(result.problems)} problem(s)") if result.status == "fail" else None

    return {"actions": [run], "uptodate": [False], "verbosity": 2}


def task_ledger_check():
    """Check observed values against ledger records and the hash chain."""
    from t4tasks.checks import ledger_check
    project = current()

    def check(rev_range: str):
        result = validate.check_ledger(project)
        problems = list(result.problems)
        # --range BASE..HEAD: every commit changing an observed block must also add its ledger record
        if rev_range:
            problems += [str(p) for p in ledger_check.check_git_range(
                project.root, rev_range, ledger_dir_rel=project.config.ledger_dir)]
        for problem in problems:
            print(problem)
        print(f"ledger: {'fail' if problems else 'pass'}")
        return TaskFailed(f"{len(problems)} problem(s)") if problems else None

    return {"actions": [check], "uptodate": [False], "verbosity": 2,
            "params": [{"name": "rev_range", "long": "range", "type": str, "default": "",
                        "help": "git range BASE..HEAD: check every commit in it (merges included)"}]}


def task_tag_prod():
    """Tag HEAD (default v0.01-prod) when the tree is clean and every check passes."""
    from t4tasks.checks import prod_tag
    project = current()

    def run(name: str):
        try:
            print(prod_tag.tag(project, name))
        except prod_tag.TagRefused as exc:
            return TaskFailed(f"tag_prod refused: {exc}")
        return None

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [{"name": "name", "long": "name", "type": str, "default": prod_tag.DEFAULT_TAG,
                        "help": "tag name"}]}


def task_validate():
    """Run every check and write docs/_generated/VALIDATION_REPORT.{json,md}; fail when any fails."""
    project = current()
    out = project.config.generated_dir
    declared = plan(project)
    generated = [f"{out}/{registry.REGISTRY_NAME}", *(f"{out}/{n}" for n in docmap.OUTPUTS),
                 f"{out}/{docmap.SUMMARIES_NAME}", f"{out}/{meta.META_NAME}",
                 f"{project.config.trends_dir}/{trends.COVERAGE_TREND}",
                 f"{project.config.trends_dir}/{trends.BENCH_TREND}"]

    def run(strict: bool):
        results = validate.run(project, strict=strict)
        data = validate.report(results)
        validate.write(project, data)
        for result in results:
            print(f"{result.name:<10} {result.status}" + (f"  ({result.reason})" if result.reason else ""))
            for problem in result.problems[:50]:
                print(f"    {problem}")
            if len(result.problems) > 50:
                print(f"    ... {len(result.problems) - 50} more in {out}/{validate.REPORT_MD}")
            for warning in result.warnings:
                print(f"    warning: {warning}")
        summary = data["summary"]
        print(f"validate: {summary['pass']} passed, {summary['fail']} failed, {summary['skipped']} skipped")
        step_summary.append(project, "validate", [(r.name, p) for r in results if r.status == "fail"
                                                  for p in r.problems or [r.reason or "failed"]])
        return None if data["ok"] else TaskFailed(f"{summary['fail']} check(s) failed")

    return {
        "actions": [run],
        "params": [{"name": "strict", "long": "strict", "type": bool, "default": False,
                    "help": "stop at the first failing check"}],
        "task_dep": ["registry", "summaries", "docmap", "meta_registry", "trends"],
        "file_dep": [*generated, *_ledgers(project)],
        "targets": [f"{out}/{validate.REPORT_JSON}", f"{out}/{validate.REPORT_MD}"],
        "uptodate": [config_changed(_registry_settings(
            project, manifests=_contents(project, "manifests", project.manifest_paths),
            docs=_contents(project, "docs", declared["docs"]),
            module_files=_contents(project, "module files", declared["module_files"])))],
        "verbosity": 2,
    }


BASE = {"name": "base", "long": "base", "type": str, "default": "",
        "help": "git ref to compare with (the pull request's base branch)"}


def task_pr_report():
    """Markdown for one PR comment: coverage and p95 deltas of each module changed since --base."""
    # Deltas against the base's ledgers, new failures, regressions; --output FILE also writes it.
    from t4tasks.checks import base_ref, changes, pr_report
    from t4tasks.speed import atomic
    project = current()

    def run(base: str, output: str):
        try:
            commit, rows, unchanged = pr_report.rows(project, base)
        except (base_ref.RefError, changes.ChangesError) as exc:
            return TaskError(str(exc))
        text = pr_report.markdown(base, commit, rows, unchanged)
        print(text, end="")
        if output:
            atomic.write_text(Path(output), text)
        return None

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [BASE, {"name": "output", "long": "output", "type": str, "default": "",
                              "help": "also write the Markdown to this file"}]}


def task_patch_coverage():
    """Per module, how many executable lines changed since --base its latest coverage covers."""
    # Fails under --fail-under N (or each module's target with --lane-targets).
    from t4tasks.checks import base_ref, patch_coverage
    project = current()

    def run(base: str, fail_under: str, lane_targets: bool):
        try:
            threshold = float(fail_under) if fail_under else None
        except ValueError:
            return TaskError(f"--fail-under {fail_under}: not a number")
        try:
            patches = patch_coverage.run(project, base, threshold, lane_targets)
        except base_ref.RefError as exc:
            return TaskError(str(exc))
        for patch in patches:
            print(patch.line())
        failed = [p for p in patches if p.failed]
        print(f"patch coverage: {len(patches) - len(failed)} of {len(patches)} changed modules pass")
        step_summary.append(project, "patch coverage", [(p.module, p.reason()) for p in failed],
                            {p.module for p in patches})
        return TaskFailed(f"{len(failed)} module(s) fail patch coverage") if failed else None

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [BASE,
                       {"name": "fail_under", "long": "fail-under", "type": str, "default": "",
                        "help": "fail a module whose changed lines are covered under N percent (default: off)"},
                       {"name": "lane_targets", "long": "lane-targets", "type": bool, "default": False,
                        "help": "fail under each module's own coverage target (manifest or lane) instead"}]}
