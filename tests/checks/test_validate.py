"""``t4`` (measure + validate) and ``t4 validate`` end to end, on real temporary git repositories.

One healthy repository is measured once (real pytest-cov subprocesses) and copied for every test,
``.t4/`` state included. Each negative test breaks one input and checks that ``validate`` goes red
for that check's own reason, with the reason in VALIDATION_REPORT.json, and that the failing
validate rewrote no manifest and no ledger.
"""

from __future__ import annotations

import hashlib
import shutil
import textwrap
from pathlib import Path

import orjson
import pytest

from tests.support import GENERATED, MANIFEST, doit_tasks, git_init, make_repo, manifest, run_t4

CHECKS = ["manifests", "registry", "meta", "docs", "ledger", "coverage", "bench", "trends"]
DERIVED_TASKS = ["registry", "summaries", "docmap", "meta_registry", "trends", "validate"]
LEDGER = "manifests/.ledger/coverage.ndjson"
REPORT = f"{GENERATED}/VALIDATION_REPORT.json"

BETA_CODE = textwrap.dedent("""\
    def mul(a, b):
        x = a
        y = b
        z = x * y
        return z


    def sign(x):
        if x >= 0:
            return 1
        return -1
""")  # 9 statements; branch coverage counts: 81.82 %, above L2's 80, below 99


def healthy_repo(root: Path) -> Path:
    """Two L2 modules with a README each and tests reaching >= 80 % coverage, committed."""
    make_repo(root, {
        "alpha": manifest("alpha", matrix={"lane": "L2"}, description="Adds."),
        "beta": manifest("beta", matrix={"lane": "L2"}, description="Multiplies."),
    }, files={
        "alpha/__init__.py": "def add(a, b):\n    return a + b\n",
        "alpha/tests/test_alpha.py": "from alpha import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        "alpha/README.md": "# Alpha\n\nAdds numbers. Multiplying is [beta's job](../beta/README.md#beta).\n",
        "beta/__init__.py": BETA_CODE,
        "beta/tests/test_beta.py": ("from beta import mul, sign\n\n\ndef test_mul():\n"
                                    "    assert mul(2, 3) == 6\n    assert sign(4) == 1\n"),
        "beta/README.md": "# Beta\n\nMultiplies numbers.\n",
    })
    return git_init(root)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """The healthy repository after one real ``t4`` run: (root, returncode, stdout, stderr)."""
    root = healthy_repo(tmp_path_factory.mktemp("healthy") / "repo")
    code, out, err = run_t4(root, timeout=300)
    return root, code, out, err


@pytest.fixture
def repo(measured, tmp_path) -> Path:
    """A private copy of the measured healthy repository (doit state and git included)."""
    root, code, out, err = measured
    assert code == 0, out + err
    copy = tmp_path / "repo"
    shutil.copytree(root, copy, symlinks=True)
    return copy


def tree_hashes(root: Path, *, only: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under root (outside .git), or of the files whose path ends as ``only``."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or rel.split("/")[0] == ".git":
            continue
        if only and not rel.endswith(only):
            continue
        found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def inputs_hashes(root: Path) -> dict[str, str]:
    """What validate must never rewrite: manifests and ledgers."""
    hashes = tree_hashes(root, only=(MANIFEST, ".ndjson"))
    assert any(p.endswith(MANIFEST) for p in hashes) and any(p.endswith(".ndjson") for p in hashes)
    return hashes


def report(root: Path) -> dict:
    return orjson.loads((root / REPORT).read_bytes())


def by_name(data: dict) -> dict[str, dict]:
    return {check["name"]: check for check in data["checks"]}


def failing(data: dict) -> set[str]:
    return {check["name"] for check in data["checks"] if check["status"] == "fail"}


def load_json(path: Path) -> dict:
    return orjson.loads(path.read_bytes())


def dump_json(path: Path, data: dict) -> None:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def edit_manifest(root: Path, module: str, change) -> None:
    path = root / module / MANIFEST
    data = load_json(path)
    change(data)
    dump_json(path, data)


# ---------------------------------------------------------------------------------------------
# the healthy repository


def test_t4_measures_then_validates_ok(measured):
    root, code, out, err = measured
    assert code == 0, out + err
    executed, _ = doit_tasks(out)
    assert {"coverage:alpha", "coverage:beta", *DERIVED_TASKS} <= set(executed)
    # measurement ran before validation: validate is the last task of the run
    # validate runs after every measurement; the dashboard and badges are drawn after it
    assert executed.index("validate") > max(executed.index("coverage:alpha"), executed.index("coverage:beta"))
    assert executed[-2:] == ["dashboard", "badges"]
    data = report(root)
    assert data["ok"] is True
    assert [check["name"] for check in data["checks"]] == CHECKS
    assert data["summary"] == {"checks": 8, "pass": 7, "fail": 0, "skipped": 1}
    checks = by_name(data)
    assert all(checks[name]["status"] == "pass" for name in CHECKS if name != "bench")
    assert checks["bench"]["status"] == "skipped"
    assert "no module has benchmarks" in checks["bench"]["reason"]
    assert checks["coverage"]["counts"] == {"modules": 2, "passed": 2, "problems": 0}
    # what was measured is real: pytest-cov numbers, recorded in the ledger and the manifests
    meta = load_json(root / GENERATED / "META_REGISTRY.json")
    observed = {m["name"]: m["coverage"]["observed"] for m in meta["modules"]}
    assert observed == {"alpha": 100.0, "beta": 81.82}
    assert load_json(root / "beta" / MANIFEST)["testing"]["coverage_observed"] == 81.82
    md = (root / GENERATED / "VALIDATION_REPORT.md").read_text()
    assert "**PASS**: 7 passed, 0 failed, 1 skipped of 8 checks." in md


def test_validate_twice_second_run_executes_nothing_and_changes_nothing(repo):
    code, out, err = run_t4(repo, "validate")
    assert code == 0, out + err
    before = tree_hashes(repo)
    code, out, err = run_t4(repo, "validate")
    assert code == 0, out + err
    executed, uptodate = doit_tasks(out)
    assert executed == []
    assert sorted(uptodate) == sorted(DERIVED_TASKS)
    assert [line for line in out.splitlines() if line.strip()] == [f"-- {t}" for t in uptodate]
    assert tree_hashes(repo) == before
    assert report(repo)["ok"] is True


def test_validate_after_a_change_reruns_and_reconverges(repo):
    """The convergence test above is not vacuous: a real input change does rerun validate."""
    (repo / "beta" / "README.md").write_text("# Beta\n\nMultiplies numbers, and signs.\n")
    code, out, err = run_t4(repo, "validate")
    assert code == 0, out + err
    executed, _ = doit_tasks(out)
    assert "validate" in executed and "meta_registry" in executed
    code, out, err = run_t4(repo, "validate")
    assert code == 0 and doit_tasks(out)[0] == []


# ---------------------------------------------------------------------------------------------
# one negative test per check: validate fails for that check's own reason


def corrupt_manifest(root: Path) -> None:
    (root / "beta" / MANIFEST).write_text('{"schema_version": "1.0.0", "module": "beta",\n "matrix": }\n')


def edit_registry(root: Path) -> None:
    path = root / GENERATED / "MODULE_REGISTRY.json"
    data = load_json(path)
    data["modules"][0]["description"] = "Edited by hand."
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def edit_summaries(root: Path) -> None:
    # the summaries' inputs are unchanged: validate knows their expected content id and compares
    path = root / GENERATED / "MODULE_SUMMARIES.json"
    data = load_json(path)
    data["modules"]["alpha"]["summary"] = "Edited by hand."
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def edit_meta(root: Path) -> None:
    path = root / GENERATED / "META_REGISTRY.json"
    data = load_json(path)
    data["modules"][1]["health_score"] = 100.0
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def break_link(root: Path) -> None:
    path = root / "alpha" / "README.md"
    path.write_text(path.read_text().replace("../beta/README.md", "../beta/GONE.md"))


def edit_ledger_value(root: Path) -> None:
    """Change the coverage value on the FIRST ledger line (the next line's prev covers it)."""
    path = root / LEDGER
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 2
    entry = orjson.loads(lines[0])
    entry["coverage"] = round(entry["coverage"] - 1.0, 2)
    lines[0] = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n"
    path.write_bytes(b"".join(lines))


def edit_observed(root: Path) -> None:
    edit_manifest(root, "alpha", lambda data: data["testing"].update(coverage_observed=99.5))


def raise_target(root: Path) -> None:
    edit_manifest(root, "beta", lambda data: data["testing"].update(coverage_target=99))


def edit_trend(root: Path) -> None:
    path = root / "trends" / "coverage_trend.csv"
    text = path.read_text()
    assert ",beta,81.82," in text
    path.write_text(text.replace(",beta,81.82,", ",beta,95.00,"))


NEGATIVE = {
    "manifests": (corrupt_manifest, ["beta/module.manifest.json:2: invalid JSON"]),
    "registry": (edit_registry, [f"{GENERATED}/MODULE_REGISTRY.json: out of date or edited by hand"]),
    "registry-summaries": (edit_summaries, [f"{GENERATED}/MODULE_SUMMARIES.json: out of date or edited by hand"]),
    "meta": (edit_meta, [f"{GENERATED}/META_REGISTRY.json: out of date or edited by hand"]),
    "docs": (break_link, ["alpha/README.md:3: broken link: ../beta/GONE.md"]),
    "ledger-chain": (edit_ledger_value, ["coverage.ndjson:1: hash chain broken"]),
    "ledger-observed": (edit_observed, ["alpha/module.manifest.json: observed coverage 99.5 differs from the "
                                        "ledger record", "the manifest was edited by hand"]),
    "coverage": (raise_target, ["beta/module.manifest.json: coverage below_target: observed 81.82 "
                                "target 99.00 delta -17.18"]),
    "trends": (edit_trend, ["trends/coverage_trend.csv: out of date or edited by hand"]),
}


@pytest.mark.parametrize("case", list(NEGATIVE))
def test_each_check_fails_for_its_own_reason(repo, case):
    mutate, messages = NEGATIVE[case]
    check = case.split("-")[0]
    # before: the copy is healthy, so the failure below is caused by the mutation alone
    code, out, err = run_t4(repo, "validate")
    assert code == 0 and report(repo)["ok"], out + err
    mutate(repo)
    guarded = inputs_hashes(repo)
    code, out, err = run_t4(repo, "validate")
    assert code != 0
    assert "Traceback" not in out + err
    data = report(repo)
    assert data["ok"] is False
    assert [c["name"] for c in data["checks"]] == CHECKS       # the number of checks is stable
    assert failing(data) == {check}, by_name(data)            # only the broken check goes red
    problems = "\n".join(by_name(data)[check]["problems"])
    for message in messages:
        assert message in problems
        assert message in out                                  # also printed by the task
    assert data["summary"]["fail"] == 1
    md = (repo / GENERATED / "VALIDATION_REPORT.md").read_text()
    assert f"| {check} | fail |" in md and "**FAIL**" in md
    # validate is read-only towards its inputs, even when it fails
    assert inputs_hashes(repo) == guarded
    # a failure is not remembered as success: the next run reports it again
    code, out, _ = run_t4(repo, "validate")
    assert code != 0 and "validate" in doit_tasks(out)[0]


BENCH_FILE = textwrap.dedent("""\
    from alpha import add


    def test_add_speed(benchmark):
        benchmark(add, 1, 2)
""")


@pytest.mark.parametrize("p95_target, bench_status, sla_points", [(0.000001, "fail", 0.0), (1e6, "pass", 30.0)])
def test_bench_check_judges_the_sla(repo, p95_target, bench_status, sla_points):
    (repo / "benchmarks" / "alpha").mkdir(parents=True)
    (repo / "benchmarks" / "alpha" / "test_bench_alpha.py").write_text(BENCH_FILE)
    edit_manifest(repo, "alpha", lambda data: data.update(performance={"sla": {"latency_p95_ms": p95_target}}))
    code, out, err = run_t4(repo, "bench", timeout=300)
    assert code == 0, out + err
    assert "bench:alpha" in doit_tasks(out)[0]
    guarded = inputs_hashes(repo)
    code, out, err = run_t4(repo, "validate")
    data = report(repo)
    checks = by_name(data)
    assert checks["bench"]["status"] == bench_status, checks["bench"]
    assert checks["bench"]["counts"]["modules"] == 1
    assert failing(data) == ({"bench"} if bench_status == "fail" else set()), checks
    assert (code != 0) == (bench_status == "fail")
    if bench_status == "fail":
        assert any(p.startswith("alpha/module.manifest.json: bench missed_sla: p95 ")
                   for p in checks["bench"]["problems"]), checks["bench"]
    assert inputs_hashes(repo) == guarded
    # the same verdict reaches META_REGISTRY's health score
    alpha = next(m for m in load_json(repo / GENERATED / "META_REGISTRY.json")["modules"] if m["name"] == "alpha")
    assert alpha["performance"]["meets_sla"] is (bench_status == "pass")
    assert alpha["health"]["sla"]["points"] == sla_points
    assert alpha["health_score"] == 50.0 + sla_points + 20.0


def test_strict_stops_at_the_first_failure(repo):
    edit_registry(repo)   # the 2nd check fails ...
    edit_trend(repo)      # ... and so does the 8th
    code, out, _ = run_t4(repo, "validate")
    assert code != 0
    assert failing(report(repo)) == {"registry", "trends"}
    code, out, err = run_t4(repo, "validate", "--strict")
    assert code != 0, out + err
    data = report(repo)
    checks = by_name(data)
    assert [c["name"] for c in data["checks"]] == CHECKS
    assert checks["manifests"]["status"] == "pass"
    assert checks["registry"]["status"] == "fail"
    for name in CHECKS[2:]:
        assert checks[name]["status"] == "skipped", checks[name]
        assert "--strict" in checks[name]["reason"] and "earlier check failed" in checks[name]["reason"]
    assert data["summary"] == {"checks": 8, "pass": 1, "fail": 1, "skipped": 6}


def test_failing_report_does_not_depend_on_where_the_repo_lives(repo, tmp_path):
    """Deterministic: same inputs, same bytes, even when a check fails (no absolute paths)."""
    other = tmp_path / "elsewhere" / "clone"
    shutil.copytree(repo, other, symlinks=True)
    for root in (repo, other):
        edit_ledger_value(root)
        run_t4(root, "validate")
    assert str(tmp_path) not in (repo / REPORT).read_text()
    assert (repo / REPORT).read_bytes() == (other / REPORT).read_bytes()


def test_an_edited_ledger_record_is_not_blamed_on_the_manifest(repo):
    manifest_before = (repo / "alpha" / MANIFEST).read_bytes()
    edit_ledger_value(repo)   # line 1 is alpha's record; alpha's manifest is not touched
    assert (repo / "alpha" / MANIFEST).read_bytes() == manifest_before
    code, out, _ = run_t4(repo, "validate")
    assert code != 0
    problems = by_name(report(repo))["ledger"]["problems"]
    assert any("hash chain broken" in p for p in problems)
    assert not any("the manifest was edited by hand" in p for p in problems), problems


# ---------------------------------------------------------------------------------------------
# the checks run in two processes: the same results as one after another, and no result lost


def _results(root: Path) -> list[dict]:
    from t4tasks.checks import validate
    from t4tasks.catalog.project import Project

    return [r.as_dict() for r in validate.run(Project.load(root))]


def test_forked_checks_give_the_serial_results(repo, monkeypatch):
    from t4tasks.speed import forked

    raise_target(repo)   # coverage fails: a check that runs in the child
    break_link(repo)     # docs fails: a check that runs in this process
    children = []
    start = forked.start

    def recording(compute, **options):
        child = start(compute, **options)
        children.append(child.pid)
        return child
    monkeypatch.setattr(forked, "start", recording)
    in_two = _results(repo)
    assert children and None not in children, "the checks did not run in a child"
    monkeypatch.setenv(forked.SERIAL_ENV, "1")
    assert _results(repo) == in_two
    # (registry and meta fail too: nothing regenerated the documents after the edits)
    assert {"coverage", "docs"} <= {c["name"] for c in in_two if c["status"] == "fail"}


def test_checks_whose_child_dies_run_in_this_process(repo, monkeypatch):
    import os

    from t4tasks.checks import validate

    raise_target(repo)
    expected = _results(repo)
    parent = os.getpid()
    real = validate.check_coverage

    def dies_in_the_child(project):
        if os.getpid() != parent:
            os._exit(3)
        return real(project)
    monkeypatch.setattr(validate, "CHECKS", tuple(dies_in_the_child if c is real else c for c in validate.CHECKS))
    monkeypatch.setattr(dies_in_the_child, "__name__", "check_coverage")
    assert _results(repo) == expected


def _recorded_run(root: Path, monkeypatch, *tasks: str) -> tuple[int, list[tuple[str, int | None]]]:
    """Run ``tasks`` in this process: its exit code and what happened, in order: each child forked
    to build META (``meta``), the summaries (``summaries``), the trends (``trends``) or validate's
    checks of inputs (``early``), with its pid; ``meta built here`` for a META built in this process (a child's
    builds are invisible here); ``validate`` when the validate task's checks began."""
    from t4tasks import cli
    from t4tasks.speed import forked
    from t4tasks.outputs import meta
    from t4tasks.checks import validate

    events: list[tuple[str, int | None]] = []
    start, build, run = forked.start, meta.build, validate.run

    def recording(compute, **options):
        child = start(compute, **options)
        kind = compute.__qualname__.split(".")[0].lstrip("_").removesuffix("_of")
        if kind in ("meta", "summaries", "trends", "early"):
            events.append((kind, child.pid))
        return child

    def building(*args, **kwargs):
        events.append(("meta built here", None))
        return build(*args, **kwargs)

    def running(*args, **kwargs):
        events.append(("validate", None))
        return run(*args, **kwargs)
    monkeypatch.setattr(forked, "start", recording)
    monkeypatch.setattr(meta, "build", building)
    monkeypatch.setattr(validate, "run", running)
    monkeypatch.chdir(root)
    return cli.main(["--root", str(root), *tasks]), events


def _run_serially(repo: Path, tmp_path: Path, monkeypatch, task: str, expected: int) -> Path:
    """A copy of ``repo`` after ``t4 task`` with nothing forked: what a forked run must equal."""
    serial = tmp_path / "serial"
    shutil.copytree(repo, serial, symlinks=True)
    with monkeypatch.context() as serially:
        serially.setenv("T4_SERIAL", "1")
        assert run_t4(serial, task)[0] == expected
    return serial


def test_meta_begun_by_the_registry_task_in_a_child_is_the_meta_built_here(repo, tmp_path, monkeypatch):
    # a new registry means a new META: the registry task begins it in a child, so that it overlaps
    # with summaries and docmap, and meta_registry writes the child's result
    raise_target(repo)
    serial = _run_serially(repo, tmp_path, monkeypatch, "meta_registry", expected=0)

    code, events = _recorded_run(repo, monkeypatch, "meta_registry")
    assert code == 0
    assert [kind for kind, _ in events] == ["meta"] and events[0][1] is not None  # nothing built here
    assert (repo / GENERATED / "META_REGISTRY.json").read_bytes() == (serial / GENERATED / "META_REGISTRY.json").read_bytes()
    assert orjson.loads((repo / GENERATED / "META_REGISTRY.json").read_bytes())["modules"]


def test_meta_begun_for_a_run_that_does_not_need_it_is_stopped_when_the_run_ends(repo, monkeypatch):
    import os

    raise_target(repo)
    code, events = _recorded_run(repo, monkeypatch, "registry")
    assert code == 0 and [kind for kind, _ in events] == ["meta"]
    with pytest.raises(ChildProcessError):
        os.waitpid(events[0][1], os.WNOHANG)  # stopped and reaped: no child of ours any more


def test_checks_of_inputs_begun_ahead_are_those_validate_reports(repo, tmp_path, monkeypatch):
    # changed manifests and a validate run: the checks that read only inputs (coverage and docs
    # fail here) begin while doit loads tasks, so they overlap with the registry, summaries,
    # docmap and META
    raise_target(repo)
    break_link(repo)
    serial = _run_serially(repo, tmp_path, monkeypatch, "validate", expected=1)

    code, events = _recorded_run(repo, monkeypatch, "validate")
    assert code == 1
    # the ledgers are unchanged: validate knows the trends' content ids, and builds no trends
    assert [kind for kind, _ in events] == ["meta", "summaries", "early", "early", "validate"]
    assert report(repo) == report(serial)
    assert {"coverage", "docs"} <= failing(report(repo))


@pytest.mark.parametrize("ahead", [True, False], ids=["t4 validate", "all creators loaded"])
def test_checks_of_inputs_begin_with_meta_after_new_ledger_records(repo, tmp_path, monkeypatch, ahead):
    # after a measurement the registry is up to date and META is not. A run that names validate
    # (whether t4 can tell its tasks or loads every creator, as `t4 -n 2 validate` does) makes the
    # plan before doit loads the creators, and the new plan begins META and the checks
    edit_ledger_value(repo)
    serial = _run_serially(repo, tmp_path, monkeypatch, "validate", expected=1)

    if not ahead:
        from t4tasks import cli
        monkeypatch.setattr(cli, "requested_tasks", lambda words: None)
    code, events = _recorded_run(repo, monkeypatch, "validate")
    assert code == 1
    # new records: the trends are built; the summaries, whose inputs are unchanged, are not
    assert [kind for kind, _ in events] == ["meta", "trends", "early", "early", "validate"]
    assert report(repo) == report(serial)
    assert failing(report(repo)) == {"ledger"}


def test_a_run_that_does_not_validate_begins_no_checks(repo, monkeypatch):
    raise_target(repo)  # the registry changes
    code, events = _recorded_run(repo, monkeypatch, "docmap")
    assert code == 0 and [kind for kind, _ in events] == ["meta"]  # (stopped when the run ends)


def test_checks_begun_before_a_ledger_changed_are_begun_again(repo, monkeypatch):
    # a run that measures and validates: a record appended after the registry task began the
    # checks must be judged, so validate does not take the children's results
    from t4tasks import headstart, products
    from t4tasks.catalog.project import Project
    from t4tasks.checks import validate

    raise_target(repo)
    project = Project.load(repo)
    headstart.expect(project)
    headstart.start_checks(project)
    for child in validate.early(project, products.ahead):
        assert child.result()  # the children have judged the ledger as it was
    edit_ledger_value(repo)    # as a recording would: the ledger changes after they began
    results = {r.name: r for r in validate.run(project)}
    assert results["ledger"].status == "fail"
    assert any("hash chain broken" in p for p in results["ledger"].problems)
