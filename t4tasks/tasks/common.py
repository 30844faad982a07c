"""What the task declarations share: the project, each task's settings, the registry-side plan."""

from __future__ import annotations

import functools
import hashlib
import math
import os
import sys
from collections.abc import Callable

import orjson

from t4tasks import __version__
from t4tasks.catalog import registry, summaries
from t4tasks.catalog.project import Project, load_cached
from t4tasks.ledgers import record, shard
from t4tasks.measure import inputs
from t4tasks.speed import memo

CHANGED_SINCE_ENV = "T4_CHANGED_SINCE"


def current() -> Project:
    """The project for the working directory (doit runs creators with cwd = the root)."""
    return load_cached(os.getcwd())


def _digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _settings(project: Project, **extra: object) -> dict:
    """The single ``config_changed`` payload of a task (doit honours only one per task)."""
    return {"t4": __version__, "config": project.config.digest(), **extra}


def _registry_settings(project: Project, **extra: object) -> dict:
    """Settings of the registry and of each task that reads it: they include the registry's digest."""
    # After a change to the registry every such task reruns, and doit, seeing a changed value,
    # skips the check of each file it depends on.
    return _settings(project, registry=plan(project)["registry"], **extra)


def _contents(project: Project, name: str, paths: list[str]) -> str:
    """What the repository files ``paths`` hold, as one digest of their content ids."""
    # doit would stat each dependency to check it and again to record it, where the listing already
    # names the content of each clean tracked file (see digests and docs/PERFORMANCE.md).
    # A file produced by another task stays a ``file_dep``: doit orders tasks by those.
    def compute() -> str:
        parts = memo.file_parts(project.root, paths)
        text = "\n".join([f"{path}\0{part}" for path, part in zip(paths, parts)])
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    return project.remember(("contents", name), compute)


def _report_problems(problems, header: str) -> None:
    if problems:
        print(f"{header} ({len(problems)}):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)


def plan(project: Project, made: Callable[[], None] = lambda: None) -> dict:
    """What the registry-side creators declare."""
    # The registry's digest and the files that summaries, META and validate read, once per process.
    def compute_and_tell() -> dict:
        found = _compute_plan(project)
        made()  # the plan is new
        return found

    def compute() -> dict:
        remembered = project.memo("plan")
        # remembered by the project key: an up-to-date run decides without parsing a manifest
        found = remembered.get(project.key, compute_and_tell)
        remembered.save()
        return found

    return project.remember(("plan",), compute)


def _compute_plan(project: Project) -> dict:
    reg = registry.of(project)
    # the union of what the coverage and bench gates read (they reuse these lists in this run)
    module_files = {f for m in project.modules for paths in (m.test_paths, m.bench_paths)
                    for f in inputs.module_inputs(project, m, paths)}
    return {"registry": _digest(reg),
            "summaries_view": _digest(summaries.view(reg)),
            "docs": sorted({d for m in reg["modules"] for d in m["docs"]}),
            "summary_sources": summaries.sources(reg, project.listing.file_set),
            "module_files": sorted(module_files)}


def _run_modules(project: Project, ledger_name: str | None = None):
    """The modules per-module tasks are created for."""
    from t4tasks.checks import changes
    ref = os.environ.get(CHANGED_SINCE_ENV, "")
    # all, or those changed since ``T4_CHANGED_SINCE`` (set by ``t4 --changed-since REF``)
    modules = changes.changed_modules(project, ref) if ref else project.modules
    # with ``t4 --shard I/N`` (T4_SHARD) only this shard's share, balanced by the durations recorded in
    # ``ledger_name``
    if ledger_name is None:
        return modules
    durations = shard.durations_from_ledger(record.ledger_path(project, ledger_name))
    spec = shard.current()
    if spec is not None:
        names = set(shard.select([m.name for m in modules], durations, spec))
        modules = [m for m in modules if m.name in names]
    # longest recorded run first (never measured ones before them: they may be the longest), so
    # that with ``-n`` the last module to start is a short one
    return sorted(modules, key=lambda m: -durations.get(m.name, math.inf))


def _existing(project: Project, *relpaths: str) -> list[str]:
    """Optional inputs: doit treats a missing file_dep as an error, so list only existing ones."""
    return [p for p in relpaths if (project.root / p).is_file()]


def _ledgers(project: Project) -> list[str]:
    folder = project.config.ledger_dir
    return _existing(project, f"{folder}/{record.COVERAGE_LEDGER}", f"{folder}/{record.BENCH_LEDGER}")


def _selected(project: Project, changed_since: str):
    from t4tasks.checks import changes
    ref = changed_since or os.environ.get(CHANGED_SINCE_ENV, "")
    return changes.changed_modules(project, ref) if ref else project.modules


CHANGED_SINCE = {"name": "changed_since", "long": "changed-since", "type": str, "default": "",
                 "help": "only modules whose code, tests or manifest changed since this git ref"}


MODULE_PARAM = {"name": "module", "short": "m", "long": "module", "type": str, "default": "",
                "help": "only this module (default: every module, or those changed since "
                        "--changed-since)"}


def _generated(project: Project, *names: str) -> str:
    return "/".join((project.config.generated_dir, *names))


def uncaptured(creator: Callable) -> Callable:
    """``creator`` whose every task shows its actions' output as it comes, with no capture by doit."""
    # doit captures an action's output by putting a capturing object in sys.stdout and putting back
    # what was there when the action ends. doit's worker threads (-n) interleave those swaps, so a
    # capturing object can be left in sys.stdout and freed while another thread prints to it:
    # `t4 smoke -n 2` died with SIGSEGV in 14 runs of 60. T4's actions print what they mean to show.
    @functools.wraps(creator)
    def made(*args, **kwargs):
        tasks = creator(*args, **kwargs)
        if isinstance(tasks, dict):
            return {**tasks, "io": {"capture": False}}
        return ({**task, "io": {"capture": False}} if isinstance(task, dict) else task for task in tasks)

    return made
