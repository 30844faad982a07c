"""T4's doit task creators. ``dodo.py`` files and the ``t4`` CLI both load these.

Each artifact has exactly one task, with repo-relative ``file_dep``/``targets`` and one
``config_changed`` on everything else that shapes its output (T4 version, settings, templates,
and, for the tasks that read thousands of repository files, those files' content ids), so doit
reruns a task exactly when its inputs' content changed.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import subprocess
import sys

import orjson
from doit.exceptions import TaskFailed
from doit.tools import config_changed

# what the registry-side tasks need; the other modules are imported by the creators that use
# them: start-up is most of an up-to-date run on a small repository
from . import (__version__, atomic, digests, docmap, inputs, ledger, manifest, memo, meta, record, registry, shard,
               summaries, templates, trends, validate)
from .checker import ContentChecker
from .ci_init import task_ci_init  # noqa: F401  (t4 ci_init [--apply])
from .merge import task_merge  # noqa: F401  (t4 merge FRAGMENTS...)
from .reporter import ProgressReporter
from .project import Project, load_cached

MEASURE_TASKS = ["coverage", "bench"]
SHOW_TASKS = ["dashboard", "badges"]
DEFAULT_TASKS = [*MEASURE_TASKS, "validate", *SHOW_TASKS]
CHANGED_SINCE_ENV = "T4_CHANGED_SINCE"

# which task creators a task needs loaded besides its own: the producers of the files it reads
CREATOR_DEPS = {
    "docmap": ["registry", "summaries"],
    "meta_registry": ["registry"],
    "validate": ["registry", "summaries", "docmap", "meta_registry", "trends"],
    "dashboard": ["meta_registry", "trends"],
    "badges": ["meta_registry"],
}


def creators_for(names: list[str]) -> set[str]:
    """``names`` and, transitively, the creators of what they depend on."""
    needed, stack = set(), list(names)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(CREATOR_DEPS.get(name, ()))
    return needed


def doit_config(project: Project) -> dict:
    """doit settings: sqlite3 state under ``.t4/`` (never the platform-dependent dbm)."""
    state = project.state_dir()
    digests.use_store(state / "digests.json")
    return {
        "backend": "sqlite3",
        "dep_file": str(state.relative_to(project.root) / "doit.sqlite3"),
        "check_file_uptodate": ContentChecker,
        "default_tasks": DEFAULT_TASKS,
        "continue": True,   # one failing gate or module never hides the others' results
        "par_type": "thread",
        "reporter": ProgressReporter,
    }


def current() -> Project:
    """The project for the working directory (doit runs creators with cwd = the root)."""
    return load_cached(os.getcwd())


def _digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _settings(project: Project, **extra: object) -> dict:
    """The single ``config_changed`` payload of a task (doit honours only one per task)."""
    return {"t4": __version__, "config": project.config.digest(), **extra}


def _registry_settings(project: Project, **extra: object) -> dict:
    """Settings of the registry and of each task that reads it: they include the registry's
    digest. After a change to the registry every such task reruns, and doit, seeing a changed
    value, skips the check of each file it depends on."""
    return _settings(project, registry=_plan(project)["registry"], **extra)


def _contents(project: Project, name: str, paths: list[str]) -> str:
    """What the repository files ``paths`` hold, as one digest of their content ids: a setting of
    the tasks that read thousands of them, in place of a ``file_dep`` on each. doit would stat
    each dependency to check it and again to record it (validate reads 76,000 files at 10,000
    modules), where the listing already names the content of each clean tracked file (see
    digests). A file produced by another task stays a ``file_dep``: doit orders tasks by those."""
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


def _plan(project: Project) -> dict:
    """What the registry-side task creators declare: the registry's digest and the files that
    summaries, META and validate read. Remembered by the project key, so an up-to-date run at
    10,000 modules decides without parsing a manifest (the actions parse them when they run).
    A plan computed anew means changed manifests or files: a run that validates then begins META
    and validate's checks of inputs here, while doit is still loading tasks (see ``validate``)."""
    def compute_and_begin() -> dict:
        plan = _compute_plan(project)
        if validate.expected(project):
            validate.start_meta(project)
            validate.start_checks(project)
        return plan

    def compute() -> dict:
        remembered = project.memo("plan")
        plan = remembered.get(project.key, compute_and_begin)
        remembered.save()
        return plan

    return project.remember(("plan",), compute)


def _compute_plan(project: Project) -> dict:
    reg = project.registry
    # the union of what the coverage and bench gates read (they reuse these lists in this run)
    module_files = {f for m in project.modules for paths in (m.test_paths, m.bench_paths)
                    for f in inputs.module_inputs(project, m, paths)}
    return {"registry": _digest(reg),
            "summaries_view": _digest(summaries.view(reg)),
            "docs": sorted({d for m in reg["modules"] for d in m["docs"]}),
            "summary_sources": summaries.sources(reg, project.listing.file_set),
            "module_files": sorted(module_files)}


def task_registry():
    """Discover manifests and write docs/_generated/MODULE_REGISTRY.json."""
    project = current()
    target = f"{project.config.generated_dir}/{registry.REGISTRY_NAME}"

    def write() -> None:
        _report_problems(project.problems, "t4: warning: manifests not registered or ambiguous")
        data = project.registry
        atomic.write_json(project.root / target, data)
        validate.start_meta(project)  # a new registry means a new META: begin it now
        validate.start_checks(project)  # and a validate run: begin the checks of inputs
        print(f"{target}: {data['module_count']} modules")

    # no file_dep on the manifests: recording an observation rewrites them, and that must not
    # make the registry stale. The digest of the registry content (observations excluded) decides.
    return {
        "actions": [write],
        "targets": [target],
        "uptodate": [config_changed(_registry_settings(project))],
        "verbosity": 2,
        "clean": True,
    }


def task_docmap():
    """Render DOCUMENTATION_MAP.md and MODULE_INDEX.md from the registry."""
    project = current()
    out_dir = project.config.generated_dir
    registry_file = f"{out_dir}/{registry.REGISTRY_NAME}"
    local_templates, packaged = [], {}
    for name in docmap.OUTPUTS.values():
        path, is_local = templates.locate(project.root, name)
        if is_local:
            local_templates.append(f"templates/{name}")
        else:
            packaged[name] = digests.sha256_of(path)

    summaries_file = f"{out_dir}/{docmap.SUMMARIES_NAME}"

    def render() -> None:
        for name, text in project.docmap_texts.items():
            atomic.write_text(project.root / out_dir / name, text)

    return {
        "actions": [render],
        "file_dep": [registry_file, summaries_file, *local_templates],
        "targets": [f"{out_dir}/{name}" for name in docmap.OUTPUTS],
        "uptodate": [config_changed(_registry_settings(project, templates=packaged))],
        "clean": True,
    }


def task_summaries():
    """One-line summary and "see also" per module (docstrings, READMEs, TF-IDF) → MODULE_SUMMARIES.json."""
    project = current()
    out = project.config.generated_dir
    plan = _plan(project)

    def write() -> None:
        atomic.write_bytes(project.root / out / docmap.SUMMARIES_NAME, validate.build_summaries(project))

    # not the registry file, which changes with every description: what summaries read of it
    # (names, code folders, docs) and the content of the files they read are in the settings
    sources = _contents(project, "summary sources", plan["summary_sources"])
    return {
        "actions": [write],
        "targets": [f"{out}/{docmap.SUMMARIES_NAME}"],
        "uptodate": [config_changed(_settings(project, summaries=plan["summaries_view"], sources=sources))],
        "clean": True,
    }


def task_check_manifests():
    """Fail with every manifest problem: unreadable, duplicate, unsafe path, schema violation."""
    project = current()

    def check():
        problems = project.all_problems()
        if problems:
            _report_problems(problems, "manifest problems")
            return TaskFailed(f"{len(problems)} manifest problem(s)")
        print(f"{len(project.manifest_paths)} manifests OK")
        return None

    schema_hash = digests.sha256_of(manifest.SCHEMA_PATH)
    manifests = {m.manifest_path: registry.manifest_digest(m) for m in project.modules + project.duplicates}
    return {
        "actions": [check],
        "uptodate": [config_changed(_settings(project, schema=schema_hash, manifests=manifests,
                                              problems=[str(p) for p in project.problems]))],
        "verbosity": 2,
    }


def _measured_task(project: Project, kind: str, module, paths: tuple[str, ...], spec: dict, measure) -> dict:
    """One ``<kind>:<module>`` sub-task: measure in a subprocess, then record it."""
    files = inputs.module_inputs(project, module, paths)

    def run() -> None:
        measure(inputs.input_digest(project.root, files, spec))

    return {
        "name": module.name,
        "actions": [run],
        "file_dep": files,
        "targets": [record.result_path(project, kind, module)],
        "uptodate": [config_changed(_settings(project, spec=spec, timeout=project.config.timeout))],
        "doc": f"measure {module.name}'s {kind}",
        "verbosity": 2,
    }


def _run_modules(project: Project, ledger_name: str | None = None):
    """The modules per-module tasks are created for: all, or those changed since
    ``T4_CHANGED_SINCE`` (set by ``t4 --changed-since REF``); with ``t4 --shard I/N`` (T4_SHARD)
    only this shard's share, balanced by the durations recorded in ``ledger_name``."""
    from . import changes
    ref = os.environ.get(CHANGED_SINCE_ENV, "")
    modules = changes.changed_modules(project, ref) if ref else project.modules
    spec = shard.current()
    if spec is None or ledger_name is None:
        return modules
    durations = shard.durations_from_ledger(record.ledger_path(project, ledger_name))
    names = set(shard.select([m.name for m in modules], durations, spec))
    return [m for m in modules if m.name in names]


def task_coverage():
    """Per-module coverage (pytest-cov in a subprocess) → coverage ledger + manifest."""
    from . import coverage
    project = current()
    for module in _run_modules(project, record.COVERAGE_LEDGER):
        def measure(digest, module=module):
            ignore = tuple(f"--ignore={p}" for p in project.foreign_tests(module))
            result = coverage.measure(project.root, module, omit=project.nested_paths(module),
                                      timeout=project.config.timeout,
                                      extra_args=(*ignore, *project.config.pytest_args))
            return record.record_coverage(project, module, result, digest)
        yield _measured_task(project, "coverage", module, module.test_paths,
                             inputs.coverage_spec(project, module), measure)


def task_bench():
    """Per-module benchmarks (pytest-benchmark in a subprocess) → bench ledger + manifest."""
    from . import bench, bench_gate, fingerprint
    project = current()
    benched = [m for m in _run_modules(project) if m.bench_paths]
    names = {m.name for m in _run_modules(project, record.BENCH_LEDGER)}
    for module in (m for m in benched if m.name in names):

        def measure(digest, module=module):
            ignore = tuple(f"--ignore={p}" for p in project.foreign_tests(module))
            result = bench.run(project.root, module, project.config.timeout,
                               extra_args=(*ignore, *project.config.pytest_args))
            environment = fingerprint.environment()
            entry = record.record_bench(project, module, result, environment, digest)
            if entry.get("status") == "ok":
                # earlier results: every ledger entry but this one (a shard's sits in a fragment)
                earlier = [e for e in bench_gate.history(project)[0].get(module.name, [])
                           if (e.get(ledger.TS), e.get(ledger.INPUT_DIGEST))
                           != (entry.get(ledger.TS), entry.get(ledger.INPUT_DIGEST))]
                for row in bench.compare(entry, earlier, project.config.bench_regression_threshold):
                    print(f"  {row['explain']}")
            else:
                print(f"  bench:{module.name}: {entry.get('status')}: {entry.get('message')}")
            return entry
        yield _measured_task(project, "bench", module, module.bench_paths,
                             inputs.bench_spec(project, module), measure)


def _existing(project: Project, *relpaths: str) -> list[str]:
    """Optional inputs: doit treats a missing file_dep as an error, so list only existing ones."""
    return [p for p in relpaths if (project.root / p).is_file()]


def _ledgers(project: Project) -> list[str]:
    folder = project.config.ledger_dir
    return _existing(project, f"{folder}/{record.COVERAGE_LEDGER}", f"{folder}/{record.BENCH_LEDGER}")


def task_meta_registry():
    """Fuse the registry with the latest ledger records → META_REGISTRY.json with health scores."""
    project = current()
    out = project.config.generated_dir
    docs = _contents(project, "docs", _plan(project)["docs"])

    def write() -> None:
        validate.start_checks(project)  # new records (a measurement): begin validate's checks too
        built = validate.build_meta(project)
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


def task_trends():
    """Daily coverage and p95 trends from the ledgers → trends/*.csv."""
    project = current()
    out = project.config.trends_dir

    def write() -> None:
        texts, problems = validate.build_trends(project)
        trends.write(project.root / out, texts)
        _report_problems(problems, "t4: warning: ledger lines skipped")

    return {
        "actions": [write],
        "file_dep": _ledgers(project),
        "targets": [f"{out}/{trends.COVERAGE_TREND}", f"{out}/{trends.BENCH_TREND}"],
        "uptodate": [config_changed(_settings(project))],
        "clean": True,
    }


def _selected(project: Project, changed_since: str):
    from . import changes
    ref = changed_since or os.environ.get(CHANGED_SINCE_ENV, "")
    return changes.changed_modules(project, ref) if ref else project.modules


CHANGED_SINCE = {"name": "changed_since", "long": "changed-since", "type": str, "default": "",
                 "help": "only modules whose code, tests or manifest changed since this git ref"}


def _gate(kind: str, project: Project, changed_since: str, judge):
    """Judge the selected modules, print one line each and a count; fail when any fails."""
    from . import changes
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
    return TaskFailed(f"{len(failed)} module(s) fail the {kind} gate") if failed else None


def task_coverage_gate():
    """Fail when a module is below its coverage target, unmeasured, stale or failing."""
    from . import coverage_gate
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
    from . import bench_gate
    project = current()

    def gate(changed_since: str):
        return _gate("bench", project, changed_since,
                     lambda modules: bench_gate.run(project, [m for m in modules if m.bench_paths]))

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
    """Check observed values against ledger records and the hash chain; --range BASE..HEAD checks
    that every commit changing an observed block also adds its ledger record."""
    from . import ledger_check
    project = current()

    def check(rev_range: str):
        result = validate.check_ledger(project)
        problems = list(result.problems)
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
    from . import prod_tag
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
    plan = _plan(project)
    validate.expect(project)
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
        summary = data["summary"]
        print(f"validate: {summary['pass']} passed, {summary['fail']} failed, {summary['skipped']} skipped")
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
            docs=_contents(project, "docs", plan["docs"]),
            module_files=_contents(project, "module files", plan["module_files"])))],
        "verbosity": 2,
    }


def _check_subtasks(project: Project, kind: str, check, doc: str):
    for module in _run_modules(project):
        def run(module=module):
            ok, detail = check(project, module)
            print(f"{kind}:{module.name} {'ok' if ok else 'FAILED'}: {detail}")
            return None if ok else TaskFailed(f"{kind}:{module.name} failed")
        yield {
            "name": module.name,
            "actions": [run],
            "file_dep": inputs.module_inputs(project, module, module.test_paths),
            "uptodate": [config_changed(_settings(project))],
            "doc": doc.format(name=module.name),
            "verbosity": 2,
        }


def task_smoke():
    """Import each module in a fresh process and run its tests marked smoke."""
    from . import smoke
    yield from _check_subtasks(current(), "smoke", smoke.smoke, "import {name} and run its smoke tests")


def task_tests_fast():
    """Run each module's tests except those marked integration; pass/fail per module."""
    from . import smoke
    yield from _check_subtasks(current(), "tests_fast", smoke.fast, "{name}'s tests without integration ones")


MODULE_PARAM = {"name": "module", "short": "m", "long": "module", "type": str, "default": "",
                "help": "only this module (default: every module, or those changed since "
                        "--changed-since)"}


def _scaffold_task(kind: str, plan, ledger_kind: str):
    from . import scaffold
    project = current()

    def run(module: str, apply: bool, update: bool):
        if module and module not in project.by_name:
            return TaskFailed(f"--module {module}: no such module (see `t4 list` or MODULE_INDEX.md)")
        modules = [project.by_name[module]] if module else list(_run_modules(project))
        failures, everything = [], []
        for m in modules:
            try:
                planned = plan(project, m, update=update)
            except ValueError as exc:  # UnsafePath or a template that cannot render
                failures.append(f"{m.name}: {exc}")
                continue
            everything += planned
            if apply:
                scaffold.apply(project, m, planned, ledger_kind)
        print(scaffold.format_plan(everything))
        if not apply:
            print(f"dry run: nothing written; run `t4 {kind} --apply` to write these files")
        for failure in failures:
            print(f"error: {failure}")
        return TaskFailed(f"{len(failures)} module(s) could not be scaffolded") if failures else None

    return {
        "actions": [run],
        "params": [MODULE_PARAM,
                   {"name": "apply", "long": "apply", "type": bool, "default": False,
                    "help": "write the files (default: dry run, print what would be written)"},
                   {"name": "update", "long": "update", "type": bool, "default": False,
                    "help": "also refresh untouched scaffolds whose template changed (diff shown)"}],
        "uptodate": [False],
        "verbosity": 2,
    }


def task_scaffold_docs():
    """Write missing module docs from templates (dry run unless --apply; never overwrites)."""
    from . import scaffold
    return _scaffold_task("scaffold_docs", scaffold.plan_docs, "scaffold")


def task_scaffold_tests():
    """Write missing module tests from templates (dry run unless --apply; never overwrites)."""
    from . import scaffold
    return _scaffold_task("scaffold_tests", scaffold.plan_tests, "test_scaffold")


def task_new_module():
    """Create a module: folder, manifest, docs and tests (t4 new_module --name payments)."""
    from . import discovery, onboard
    project = current()

    def run(name: str, lane: str):
        if not name:
            return TaskFailed("new_module needs --name NAME")
        try:
            written = onboard.new_module(project.root, name, lane=lane)
        except ValueError as exc:
            return TaskFailed(f"new_module {name}: {exc}")
        print("\n".join(f"created {path}" for path in written))
        if project.listing.is_git:
            # discovery counts tracked manifests only; intent-to-add makes the new one count
            # (and shows up in `git status`) without staging its content
            manifests = [p for p in written if p.endswith(discovery.MANIFEST_NAME)]
            subprocess.run(["git", "-C", str(project.root), "add", "--intent-to-add", *manifests], check=False)
            print(f"git add --intent-to-add {' '.join(manifests)}: the registry picks it up on the next run")
        return None

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [{"name": "name", "short": "p", "long": "name", "type": str, "default": "",
                        "help": "module name (an importable identifier)"},
                       {"name": "lane", "long": "lane", "type": str, "default": "L2", "help": "lane L0-L5"}]}


def task_init():
    """Write a manifest for each top-level package of a repository without manifests
    (dry run unless --apply; running it twice changes nothing)."""
    from . import onboard, scaffold
    project = current()

    def run(apply: bool, lane: str):
        planned = onboard.init(project.root, apply=apply, lane=lane)
        print(scaffold.format_plan(planned))
        if not apply:
            print("dry run: nothing written; run `t4 init --apply` to write these manifests")

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [{"name": "apply", "long": "apply", "type": bool, "default": False,
                        "help": "write the manifests"},
                       {"name": "lane", "long": "lane", "type": str, "default": "L2", "help": "lane for new manifests"}]}


def _generated(project: Project, *names: str) -> str:
    return "/".join((project.config.generated_dir, *names))


def task_dashboard():
    """Static HTML dashboard (no network at view time) → docs/_generated/dashboard/index.html."""
    from . import dashboard
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
    from . import badges
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
    """Insert or update each module README's badge line between <!-- t4:badges --> markers
    (dry run unless --apply; ledgered when applied)."""
    from . import badges
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
        if apply and changed_files:
            ledger.append(record.ledger_path(project, "badges.ndjson"),
                          ledger.new_record("readme_badges", "*", {"files": changed_files},
                                            inputs.input_digest(project.root, changed_files, {"kind": "readme_badges"})))
        verb = "updated" if apply else "would update"
        print(f"{len(changed_files)} README(s) {verb}" + ("" if apply else "; run with --apply to write"))
        return TaskFailed("\n".join(errors)) if errors else None

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [MODULE_PARAM, {"name": "apply", "long": "apply", "type": bool, "default": False,
                                      "help": "write the READMEs"}]}
