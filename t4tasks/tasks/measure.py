"""Per-module measurement tasks: coverage, bench, smoke, tests_fast."""

from __future__ import annotations

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, record
from t4tasks.measure import inputs, lines
from t4tasks.tasks.common import (
    _run_modules,
    _settings,
    current,
)


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


def task_coverage():
    """Per-module coverage (pytest-cov in a subprocess) → coverage ledger + manifest."""
    from t4tasks.measure import coverage
    project = current()
    for module in _run_modules(project, record.COVERAGE_LEDGER):
        def measure(digest, module=module):
            ignore = tuple(f"--ignore={p}" for p in project.foreign_tests(module))
            result = coverage.measure(project.root, module, omit=project.nested_paths(module),
                                      timeout=project.config.timeout,
                                      extra_args=(*ignore, *project.config.pytest_args))
            result = lines.keep(project.root, project.config.ledger_dir, result)
            return record.record_coverage(project, module, result, digest)
        yield _measured_task(project, "coverage", module, module.test_paths,
                             inputs.coverage_spec(project, module), measure)


def task_bench():
    """Per-module benchmarks (pytest-benchmark in a subprocess) → bench ledger + manifest."""
    from t4tasks.checks import bench_gate
    from t4tasks.measure import bench, fingerprint
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
    from t4tasks.measure import smoke
    yield from _check_subtasks(current(), "smoke", smoke.smoke, "import {name} and run its smoke tests")


def task_tests_fast():
    """Run each module's tests except those marked integration; pass/fail per module."""
    from t4tasks.measure import smoke
    yield from _check_subtasks(current(), "tests_fast", smoke.fast, "{name}'s tests without integration ones")
