"""The progress line's ETA: right within 2x, whatever the last run knew."""

from __future__ import annotations

import io
import re

import orjson
from doit.task import Task

from t4tasks.console import reporter as reporter_mod


def _task(tmp_path, name: str, previous_s: float | None) -> Task:
    target = tmp_path / f"{name.replace(':', '_')}.json"
    if previous_s is not None:
        target.write_bytes(orjson.dumps({"status": "ok", "coverage": 90.0, "duration_s": previous_s}))
    return Task(name, [], targets=[str(target)], subtask_of=name.split(":")[0])


def _finish(rep, task: Task, took_s: float) -> str:
    Task_target = task.targets[0]
    with open(Task_target, "wb") as handle:
        handle.write(orjson.dumps({"status": "ok", "coverage": 90.0, "duration_s": took_s}))
    before = rep.outstream.getvalue()
    rep.add_success(task)
    return rep.outstream.getvalue()[len(before):]


def _eta_seconds(line: str) -> float:
    found = re.search(r"ETA (?:(\d+)m)?(\d+)s", line)
    assert found, line
    return int(found.group(1) or 0) * 60 + int(found.group(2))


def _reporter(tasks: list[Task], clock: list[float], monkeypatch) -> reporter_mod.ProgressReporter:
    monkeypatch.setattr(reporter_mod.time, "monotonic", lambda: clock[0])
    rep = reporter_mod.ProgressReporter(io.StringIO(), {"verbosity": 0, "failure_verbosity": 0})
    rep.initialize({t.name: t for t in tasks}, [t.name for t in tasks])
    return rep


def test_one_short_task_left_after_a_long_unknown_one_is_a_short_eta(tmp_path, monkeypatch):
    # the first module was never measured (no previous duration) and took 300 s; the one left
    # took 4 s last time: the ETA says seconds, not minutes
    clock = [0.0]
    long, short = _task(tmp_path, "coverage:big", None), _task(tmp_path, "coverage:small", 4.0)
    rep = _reporter([long, short], clock, monkeypatch)
    clock[0] = 300.0
    eta = _eta_seconds(_finish(rep, long, 300.0))
    assert 2 <= eta <= 8


def test_the_eta_follows_this_runs_pace_and_parallelism(tmp_path, monkeypatch):
    # every module took twice as long as last time, two at a time: four 10 s modules left
    clock = [0.0]
    tasks = [_task(tmp_path, f"coverage:m{i}", 10.0) for i in range(6)]
    rep = _reporter(tasks, clock, monkeypatch)
    clock[0] = 20.0
    _finish(rep, tasks[0], 20.0)
    eta = _eta_seconds(_finish(rep, tasks[1], 20.0))
    assert 40 <= eta <= 160   # truth: 4 x 20 s of work on two cores = 40 s; within 2x of it


def test_the_eta_schedules_what_is_left_on_the_workers_running_it(tmp_path, monkeypatch):
    # T4's own first command, two at a time, longest first, every module as long as last time: the
    # first to finish (79 s) leaves 33 s of the longest module running beside 152 s of waiting work
    clock = [0.0]
    recorded = {"root": 112, "checks": 79, "measure": 64, "outputs": 20, "scaffolding": 12, "catalog": 9,
                "speed": 5, "bench": 3, "ledgers": 2, "console": 1}
    tasks = {name: _task(tmp_path, f"coverage:{name}", seconds) for name, seconds in recorded.items()}
    rep = _reporter(list(tasks.values()), clock, monkeypatch)
    rep.execute_task(tasks["root"])
    rep.execute_task(tasks["checks"])
    clock[0] = 79.0
    eta = _eta_seconds(_finish(rep, tasks["checks"], 79.0))
    # truth: the workers end at 112 + 20 + 12 + 5 + 2 = 151 and 79 + 64 + 9 + 3 + 1 = 156, 77 s from now
    assert 77 / 2 <= eta <= 77 * 2, eta


def test_no_eta_once_nothing_is_left(tmp_path, monkeypatch):
    clock = [0.0]
    only = _task(tmp_path, "coverage:one", 1.0)
    rep = _reporter([only], clock, monkeypatch)
    clock[0] = 1.0
    line = _finish(rep, only, 1.0)
    assert line.startswith("[1/1] coverage:one ok 90.00%") and "ETA" not in line


def test_the_summary_counts_records_taken_from_the_ledger_apart_and_they_set_no_pace(tmp_path, monkeypatch):
    # a fresh clone adopts a record (its duration is the record's, 100 s); one module is measured
    clock = [0.0]
    adopted, measured, left = (_task(tmp_path, f"coverage:{n}", 10.0) for n in ("adopted", "measured", "left"))
    rep = _reporter([adopted, measured, left], clock, monkeypatch)
    with open(adopted.targets[0], "wb") as handle:
        handle.write(orjson.dumps({"status": "ok", "coverage": 90.0, "duration_s": 100.0, "outcome": "from_ledger"}))
    rep.add_success(adopted)
    assert "ETA" not in rep.outstream.getvalue()  # nothing measured yet: no pace to go by
    clock[0] = 10.0
    _finish(rep, measured, 10.0)
    rep.complete_run()
    out = rep.outstream.getvalue()
    assert "up to date from the ledger (not measured)" in out
    assert "measured 1 module task(s), 1 taken from the ledger (same key, not measured), 0 up to date" in out
