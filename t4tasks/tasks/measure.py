"""Per-module measurement tasks: coverage, bench, smoke, tests_fast."""

from __future__ import annotations

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from t4tasks import __version__
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, record, records
from t4tasks.measure import host, inputs, lines
from t4tasks.problems import listed
from t4tasks.tasks.common import (
    _run_modules,
    _settings,
    current,
)


def _last_run_ok(task, values) -> bool | None:
    """A task whose last run was not ok (failed, crashed, timeout) is never up to date."""
    return records.is_ok(values) if values else None


def _measured_task(project: Project, kind: str, module, paths: tuple[str, ...], spec: dict,
                   measure, record_it) -> dict:
    """One ``<kind>:<module>`` sub-task: measure in a subprocess, then record it."""
    files = inputs.module_inputs(project, module, paths)

    def run(task) -> dict:
        # with no result yet and a latest ok ledger record of the same key, adopt that record (no run)
        if not (project.root / record.result_path(project, kind, module)).exists():
            adopted = record.adopt(project, kind, module, inputs.input_digest(project.root, files, spec))
            if adopted is not None:
                return adopted
        result = measure()
        imports = inputs.new_imports(project, module, paths, result.pop(records.IMPORTS, None) or [])
        key_files = sorted({*inputs.own_inputs(project, module, paths), *imports})
        # doit saves the inputs of this run, imports included: the next run declares the same list
        # (own inputs and the record's imports), so nothing changed means nothing reruns
        task.file_dep.clear()
        task.file_dep.update(key_files)
        return record_it(result, imports, inputs.input_digest(project.root, key_files, spec))

    return {
        "name": module.name,
        "actions": [run],
        "file_dep": files,
        "targets": [record.result_path(project, kind, module)],
        "uptodate": [config_changed(_measure_settings(project, spec)), _last_run_ok],
        "doc": f"measure {module.name}'s {kind}",
        "verbosity": 2,
    }


def _measure_settings(project: Project, spec: dict) -> dict:
    """The one ``config_changed`` payload of a measurement."""
    # Its spec (which holds the settings of its kind) and where it records, never the rest of [tool.t4].
    return {"t4": __version__, "spec": spec, "ledger_dir": project.config.ledger_dir,
            "state_dir": project.config.state_dir}


def task_coverage():
    """Per-module coverage (pytest-cov in a subprocess) → coverage ledger + manifest."""
    from t4tasks.measure import coverage
    project = current()
    for module in _run_modules(project, record.COVERAGE_LEDGER):
        def run(module=module):
            foreign = project.foreign_tests(module)
            ignore = tuple(f"--ignore={p}" for p in foreign)
            removed = host.removed_options(project.root, module.test_paths)
            if removed:
                print(f"  coverage:{module.name}: left out for an isolated run: {removed}")
            if foreign:  # said, so a figure checked by hand with the manifest's test paths agrees
                print(f"  coverage:{module.name}: left out, as other modules' tests: {listed(foreign, 5)}")
            return coverage.measure(project.root, module, omit=project.nested_paths(module),
                                    timeout=project.config.timeout,
                                    extra_args=(*ignore, *project.config.pytest_args),
                                    metric=project.config.coverage_metric)

        def record_it(result, imports, digest, module=module):
            result = lines.keep(project.root, project.config.ledger_dir, result)
            return record.record_coverage(project, module, result, digest, imports)
        yield _measured_task(project, records.COVERAGE, module, module.test_paths,
                             inputs.coverage_spec(project, module), run, record_it)


def task_bench():
    """Per-module benchmarks (pytest-benchmark in a subprocess) → bench ledger + manifest."""
    from t4tasks.checks import bench_gate
    from t4tasks.measure import bench, fingerprint
    project = current()
    benched = [m for m in _run_modules(project) if m.bench_paths]
    names = {m.name for m in _run_modules(project, record.BENCH_LEDGER)}
    for module in (m for m in benched if m.name in names):

        def run(module=module):
            ignore = tuple(f"--ignore={p}" for p in project.foreign_tests(module))
            return bench.run(project.root, module, project.config.timeout,
                             extra_args=(*ignore, *project.config.pytest_args))

        def record_it(result, imports, digest, module=module):
            entry = record.record_bench(project, module, result, fingerprint.environment(), digest, imports)
            if records.is_ok(entry):
                # earlier results: every ledger entry but this run's own (a shard's sits in a
                # fragment)
                earlier = [e for e in bench_gate.history(project)[0].get(module.name, [])
                           if e.get(ledger.TS) != entry.get(ledger.TS)]
                for row in bench.compare(entry, earlier, project.config.bench_regression_threshold):
                    print(f"  {row['explain']}")
            else:
                print(f"  bench:{module.name}: {records.status_of(entry)}: {entry.get('message')}")
            return entry
        yield _measured_task(project, records.BENCH, module, module.bench_paths,
                             inputs.bench_spec(project, module), run, record_it)


def _check_subtasks(project: Project, kind: str, check, doc: str):
    for module in _run_modules(project):
        def run(module=module):
            removed = host.removed_options(project.root, module.test_paths)
            if removed:
                print(f"  {kind}:{module.name}: left out for an isolated run: {removed}")
            ok, detail = check(project, module)
            print(f"{kind}:{module.name} {'ok' if ok else 'FAILED'}: {detail}")
            return None if ok else TaskFailed(f"{kind}:{module.name} failed")
        yield {
            "name": module.name,
            "actions": [run],
            "file_dep": inputs.module_inputs(project, module, module.test_paths),
            # the host's pytest settings and the installed distributions change a verdict too
            "uptodate": [config_changed(_settings(project, env=inputs.environment_digest(project),
                                                  host=host.settings_key(project.root, module.test_paths,
                                                                         project.remember,
                                                                         project.listing.file_set)))],
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
