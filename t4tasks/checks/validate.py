"""The validation checkpoint: every check, one report, an exit code that says why.

``validate`` never measures and never rewrites a manifest or a ledger: it compares what is
recorded and generated with what the inputs say now. The list of checks is fixed, so reports are
comparable run to run; a check with nothing to look at is ``skipped`` with a reason, never a
silent pass. The report holds no wall-clock time, so an unchanged repository gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TypeVar

import orjson

from t4tasks.catalog import docmap, registry, summaries
from t4tasks.catalog.project import Project
from t4tasks.checks import bench_gate, coverage_gate, docs_check, ledger_check, unmapped
from t4tasks.ledgers import ledger, observed, record
from t4tasks.outputs import meta, trends
from t4tasks.problems import Problem, relative_to
from t4tasks.speed import atomic, digests, forked, memo

T = TypeVar("T")
# how a result made once per run is made: ``forked.Forked`` (here, when first asked for) or
# ``_ahead`` (begun now in a forked child, for a later task)
_How = Callable[[Callable[[], T]], "forked.Forked[T]"]

REPORT_JSON = "VALIDATION_REPORT.json"
REPORT_MD = "VALIDATION_REPORT.md"


@dataclass
class CheckResult:
    name: str
    status: str = "pass"                       # pass | fail | skipped
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    warnings: list[str] = field(default_factory=list)   # said, never a failure

    def as_dict(self) -> dict:
        out = {"name": self.name, "status": self.status, "problems": self.problems, "counts": self.counts}
        if self.reason:
            out["reason"] = self.reason
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def _result(name: str, problems: list[Problem], root: Path, **counts: int) -> CheckResult:
    texts = [str(p) for p in sorted(relative_to(problems, root))]
    return CheckResult(name, "fail" if texts else "pass", texts, {"problems": len(texts), **counts})


def _same_file(project: Project, relpath: str, expected: bytes) -> list[Problem]:
    return _compare(project, relpath, lambda: (project.root / relpath).read_bytes() == expected)


def _same_content(project: Project, relpath: str, expected_id: str) -> list[Problem]:
    """``_same_file`` for a file whose expected content is known by its content id alone."""
    return _compare(project, relpath, lambda: memo.file_part(project.root, relpath) == expected_id)


def _compare(project: Project, relpath: str, same: Callable[[], bool]) -> list[Problem]:
    if not (project.root / relpath).exists():
        return [Problem(relpath, "missing: run `t4` to generate it")]
    if not same():
        return [Problem(relpath, "out of date or edited by hand: it differs from what its inputs generate")]
    return []


def check_manifests(project: Project) -> CheckResult:
    result = _result("manifests", project.all_problems(), project.root, manifests=len(project.manifest_paths))
    result.warnings = unmapped.warnings(project)
    return result


def check_registry(project: Project) -> CheckResult:
    out = project.config.generated_dir
    data = registry.of(project)
    problems = _same_file(project, f"{out}/{registry.REGISTRY_NAME}", atomic.dumps_json(data))
    problems += _same_content(project, f"{out}/{docmap.SUMMARIES_NAME}", expected_summaries(project))
    for name, text in docmap.texts_of(project).items():
        problems += _same_file(project, f"{out}/{name}", text.encode("utf-8"))
    return _result("registry", problems, project.root, modules=data["module_count"])


def build_summaries(project: Project) -> bytes:
    """MODULE_SUMMARIES.json as its inputs make it, built once per run: the summaries task writes
    it, and validate, when it does not know the file's expected content id already (see
    ``expected_summaries``), takes that id from it; ``start_checks`` then begins it ahead."""
    return _summaries(project, forked.Forked).result()


class _Expected(NamedTuple):
    """Where the expected content of a generated file is remembered, and under which key: the
    key names the file's inputs (``unchecked``: the files named by their listed ids)."""

    memo: memo.Memo
    key: str
    unchecked: list[str]

    def known(self) -> bool:
        return self.memo.knows(self.key)

    def value(self, make: Callable[[], T]) -> T:
        """The remembered value, else ``make()`` (remembered from now on)."""
        found = self.memo.get(self.key, make, self.unchecked)
        self.memo.save()
        return found


def _expected(project: Project, name: str, key: Callable[[], str], *version: object) -> _Expected:
    """The memo ``expected-<name>`` and its key for this run, made once per process (and per
    ``version`` of the files the key reads)."""
    return project.remember(("expected", name, *version),
                            lambda: _Expected(project.memo(f"expected-{name}"), *digests.unchecked_ids(key)))


def expected_summaries(project: Project) -> str:
    """The content id MODULE_SUMMARIES.json has when its inputs make it, remembered by those
    inputs (what summaries read of the registry, and the content of the files they read): while
    they are unchanged (a description edited) validate tells whether the file is up to date
    without building the summaries."""
    return _expected_summaries(project).value(lambda: digests.id_of(build_summaries(project)))


def _expected_summaries(project: Project) -> _Expected:
    def key() -> str:
        reg = registry.of(project)
        sources = summaries.sources(reg, project.listing.file_set)
        return memo.key("summaries/1", summaries.view(reg), memo.file_parts(project.root, sources))

    return _expected(project, "summaries", key)


def _summaries(project: Project, how: _How) -> forked.Forked[bytes]:
    return project.remember(("summaries",), lambda: how(lambda: atomic.dumps_json(summaries.of(project))))


class MetaFile(NamedTuple):
    """META_REGISTRY.json as written, and its summary. Bytes, not the document: a child that built
    it sends 15 MB of them at 10,000 modules in milliseconds, where the pickled document took
    0.13 s to load, and the task and the check want the bytes anyway."""

    content: bytes
    summary: dict


def build_meta(project: Project) -> MetaFile:
    """META_REGISTRY's content, built once per version of the ledgers (the meta_registry task
    writes it and validate compares the file with it in the same run)."""
    return _meta(project, forked.Forked).result()


def start_meta(project: Project) -> None:
    """Begin building META in a forked child. The registry task calls this when it has written a
    changed registry: META is then rebuilt too, and at 10,000 modules its 0.4 s overlap with
    summaries and docmap, which come first. ``build_meta`` takes the child's result; a child
    nobody asks for is stopped when the run ends. The ledgers are read here first, once, for
    every child to inherit."""
    for name in (record.COVERAGE_LEDGER, record.BENCH_LEDGER):
        ledger.preload(record.ledger_path(project, name))
    _meta(project, _ahead)


def _meta(project: Project, how: _How) -> forked.Forked[MetaFile]:
    def build() -> MetaFile:
        cov_latest = _latest(project, record.COVERAGE_LEDGER, "coverage")
        bench_latest = _latest(project, record.BENCH_LEDGER, "bench")
        remembered = project.memo("placeholders")
        read = meta.read_placeholder(project.root)

        def is_placeholder(relpath: str) -> bool:
            return remembered.get(lambda: memo.key("placeholder/1", memo.file_part(project.root, relpath)),
                                  lambda: read(relpath))

        data = meta.build(project.root, registry.of(project), cov_latest, bench_latest,
                          project.config.lanes, project.config.required_docs, is_placeholder)
        remembered.save()
        return MetaFile(atomic.dumps_json(data), data["summary"])

    return project.remember(("meta", _ledger_versions(project)), lambda: how(build))


def build_trends(project: Project) -> tuple[dict[str, str], list[Problem]]:
    """The trend CSVs' text and the ledger problems, built once per version of the ledgers: the
    trends task writes them, and validate, when it does not know the files' expected content ids
    already (see ``expected_trends``), takes them from these; ``start_checks`` then begins them
    ahead."""
    return _trends(project, forked.Forked).result()


def expected_trends(project: Project) -> tuple[dict[str, str], list[Problem]]:
    """The content id of each trend CSV as the ledgers make it, and the ledgers' problems,
    remembered by the ledgers' content: while no record is added, validate tells whether the
    trends are up to date without reading the ledgers."""
    def make() -> list:
        texts, problems = build_trends(project)
        return [{name: digests.id_of(text.encode("utf-8")) for name, text in texts.items()},
                [[p.path, p.message, p.line] for p in relative_to(problems, project.root)]]

    ids, problems = _expected_trends(project).value(make)
    return ids, [Problem(*p) for p in problems]


def _expected_trends(project: Project) -> _Expected:
    def key() -> str:
        folder = project.config.ledger_dir
        return memo.key("trends/1", memo.file_parts(project.root, [f"{folder}/{record.COVERAGE_LEDGER}",
                                                                   f"{folder}/{record.BENCH_LEDGER}"]))

    return _expected(project, "trends", key, _ledger_versions(project))


def _trends(project: Project, how: _How) -> forked.Forked[tuple]:
    ledger_dir = project.root / project.config.ledger_dir
    return project.remember(("trends", _ledger_versions(project)), lambda: how(lambda: trends.render(ledger_dir)))


def _ledger_versions(project: Project) -> tuple:
    """Which version of each ledger a result is made from."""
    return tuple(ledger.version(record.ledger_path(project, name))
                 for name in (record.COVERAGE_LEDGER, record.BENCH_LEDGER))


def _latest(project: Project, name: str, kind: str) -> dict[str, dict]:
    path = record.ledger_path(project, name)
    return ledger.latest(path, kind=kind) if path.exists() else {}


def check_meta(project: Project) -> CheckResult:
    relpath = f"{project.config.generated_dir}/{meta.META_NAME}"
    built = build_meta(project)
    return _result("meta", _same_file(project, relpath, built.content), project.root,
                   modules=built.summary["modules"])


def check_trends(project: Project) -> CheckResult:
    ids, problems = expected_trends(project)
    for name, expected_id in ids.items():
        problems += _same_content(project, f"{project.config.trends_dir}/{name}", expected_id)
    return _result("trends", problems, project.root)


def check_docs(project: Project) -> CheckResult:
    reg = registry.of(project)
    files = sorted({d for m in reg["modules"] for d in m["docs"] if d.endswith(".md")})
    remembered = project.memo("docs")
    problems = docs_check.check(project.root, files, project.listing.file_set, remembered)
    remembered.save()
    for m in project.modules:
        problems += docs_check.required_docs(m.path, project.config.required_docs, project.listing.file_set, m.name)
    return _result("docs", problems, project.root, files=len(files))


def check_ledger(project: Project) -> CheckResult:
    ledger_dir = project.root / project.config.ledger_dir
    # what the check reads of each manifest, remembered by its content: one changed manifest is read
    remembered = project.memo("observations")
    manifests = {m.manifest_path: remembered.get(
        lambda m=m: memo.key("observed/1", m.manifest_path, memo.file_part(project.root, m.manifest_path)),
        lambda m=m: observed.only(m.manifest)) for m in project.modules}
    remembered.save()
    problems = ledger_check.check_observations(project.root, manifests, ledger_dir)
    if ledger_dir.is_dir():
        problems += ledger_check.check_chains(ledger_dir)
    return _result("ledger", problems, project.root, manifests=len(manifests))


def check_coverage(project: Project) -> CheckResult:
    verdicts, problems = coverage_gate.run(project, project.modules)
    problems += [Problem(project.by_name[v.module].manifest_path,
                         f"coverage {v.status}: {' '.join(v.numbers().split())}" + (f" ({v.detail})" if v.detail else ""))
                 for v in verdicts if v.failed]
    return _result("coverage", problems, project.root, modules=len(verdicts),
                   passed=sum(v.status == "pass" for v in verdicts))


def check_bench(project: Project) -> CheckResult:
    benched = [m for m in project.modules if m.bench_paths]
    if not benched:
        return CheckResult("bench", "skipped", reason="no module has benchmarks", counts={"modules": 0})
    verdicts, problems = bench_gate.run(project, benched)
    problems += [Problem(project.by_name[v.module].manifest_path, f"bench {v.status}: {v.detail}")
                 for v in verdicts if v.failed]
    return _result("bench", problems, project.root, modules=len(verdicts))


CHECKS: tuple[Callable[[Project], CheckResult], ...] = (
    check_manifests, check_registry, check_meta, check_docs, check_ledger, check_coverage,
    check_bench, check_trends,
)


# The checks that read only inputs (manifests, module docs, ledgers, module files): none of the
# tasks validate waits for writes those, so they can begin as soon as the registry is known
# (``start_checks``), on the second core while the registry, summaries and docmap are written.
# Each group runs in a forked child (at 10,000 modules each takes about 0.6 s); the other checks
# compare the derived files those tasks write, in this process. The report is the same bytes
# however they run.
EARLY = (("coverage", "bench"), ("manifests", "docs", "ledger"))


def run(project: Project, strict: bool = False) -> list[CheckResult]:
    """Every check's result, in the fixed order of ``CHECKS``. With ``strict`` the checks run one
    after another and those after a failure are skipped."""
    if strict:
        results: list[CheckResult] = []
        for check in CHECKS:
            if any(r.status == "fail" for r in results):
                results.append(CheckResult(_name(check), "skipped", reason="--strict: an earlier check failed"))
            else:
                results.append(_run_one(check, project))
        return results
    early = _early(project)  # begun ahead (``start_checks``), or now
    early_names = {name for group in EARLY for name in group}
    found = {_name(c): _run_one(c, project) for c in CHECKS if _name(c) not in early_names}
    for group in early:
        found.update((r.name, r) for r in group.result())
    return [found[_name(c)] for c in CHECKS]


def expect(project: Project) -> None:
    """Say that this run may validate ``project`` (the validate task is loaded): only then are the
    early checks begun ahead, which a run without validate would throw away. ``t4`` says so before
    doit loads any task, the validate task's creator says it for a ``dodo.py`` of one's own."""
    project.remember(("validate expected",), lambda: True)


def expected(project: Project) -> bool:
    return project.remembers(("validate expected",))


def start_checks(project: Project) -> None:
    """Begin the early checks in forked children, and the summaries and the trends when validate
    does not know their expected content, if this run expects to validate. The task creators'
    plan calls this when manifests or files changed, the registry task when the registry did, and
    the META task when the ledgers did (after a measurement), so that the checks overlap with
    what those tasks build. The results that read ledgers are kept by the ledgers' versions: a
    measurement recorded meanwhile (a run that measures and validates) makes ``run`` begin them
    again. Children nobody asks for are stopped when the run ends."""
    if expected(project):
        # what validate knows the expected content of needs no building (see ``expected_*``)
        if not _expected_summaries(project).known():
            _summaries(project, _ahead)
        if not _expected_trends(project).known():
            _trends(project, _ahead)
        _early(project)


def _ahead(build: Callable[[], T]) -> forked.Forked[T]:
    """Begin ``build`` in a child for a later task."""
    return forked.start(build, across_tasks=True)


def _early(project: Project) -> list[forked.Forked[list[CheckResult]]]:
    by_name = {_name(c): c for c in CHECKS}

    def begin() -> list[forked.Forked[list[CheckResult]]]:
        return [_ahead(lambda group=group: [_run_one(by_name[n], project) for n in group]) for group in EARLY]

    return project.remember(("early checks", _ledger_versions(project)), begin)


def _name(check: Callable[[Project], CheckResult]) -> str:
    return check.__name__.removeprefix("check_")


def _run_one(check: Callable[[Project], CheckResult], project: Project) -> CheckResult:
    try:
        return check(project)
    except Exception as exc:  # a broken check is a failed check, reported, never a silent pass
        return CheckResult(_name(check), "fail", [f"check crashed: {type(exc).__name__}: {exc}"])


def report(results: list[CheckResult]) -> dict:
    summary = {status: sum(r.status == status for r in results) for status in ("pass", "fail", "skipped")}
    return {"schema_version": "t4.validation/1", "ok": summary["fail"] == 0,
            "summary": {**summary, "checks": len(results)}, "checks": [r.as_dict() for r in results]}


def markdown(data: dict) -> str:
    lines = ["# Validation report", "",
             f"**{'PASS' if data['ok'] else 'FAIL'}**: {data['summary']['pass']} passed, "
             f"{data['summary']['fail']} failed, {data['summary']['skipped']} skipped "
             f"of {data['summary']['checks']} checks.", "",
             "| Check | Status | Problems |", "|---|---|---|"]
    for check in data["checks"]:
        lines.append(f"| {check['name']} | {check['status']} | {len(check['problems'])} |")
    for check in data["checks"]:
        if check["problems"] or check.get("reason"):
            lines += ["", f"## {check['name']}: {check['status']}", ""]
            if check.get("reason"):
                lines.append(f"_{check['reason']}_")
            lines += [f"- `{p}`" for p in check["problems"][:200]]
            if len(check["problems"]) > 200:
                lines.append(f"- … and {len(check['problems']) - 200} more (see {REPORT_JSON})")
    return "\n".join(lines) + "\n"


def write(project: Project, data: dict) -> None:
    out = project.root / project.config.generated_dir
    atomic.write_bytes(out / REPORT_JSON, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    atomic.write_text(out / REPORT_MD, markdown(data))
