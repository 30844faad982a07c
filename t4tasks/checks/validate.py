"""The validation checkpoint: every check, one report, an exit code that says why."""
# ``validate`` never measures and never rewrites a manifest or a ledger: it compares what is
# recorded and generated with what the inputs say now. The list of checks is fixed, so reports are
# comparable run to run; a check with nothing to look at is ``skipped`` with a reason, never a
# silent pass. The report holds no wall-clock time, so an unchanged repository gives the same
# bytes.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from t4tasks import products
from t4tasks.catalog import docmap, registry
from t4tasks.catalog.project import Project
from t4tasks.checks import bench_gate, coverage_gate, docs_check, ledger_check, unmapped
from t4tasks.ledgers import observed, records
from t4tasks.outputs import meta
from t4tasks.problems import Problem, relative_to
from t4tasks.speed import atomic, forked, memo

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
    problems += _same_content(project, f"{out}/{docmap.SUMMARIES_NAME}", products.expected_summaries(project))
    for name, text in docmap.texts_of(project).items():
        problems += _same_file(project, f"{out}/{name}", text.encode("utf-8"))
    return _result("registry", problems, project.root, modules=data["module_count"])


def check_meta(project: Project) -> CheckResult:
    relpath = f"{project.config.generated_dir}/{meta.META_NAME}"
    built = products.build_meta(project)
    return _result("meta", _same_file(project, relpath, built.content), project.root,
                   modules=built.summary["modules"])


def check_trends(project: Project) -> CheckResult:
    ids, problems = products.expected_trends(project)
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
    benched = [m for m in project.modules if m.bench_paths or m.has_sla]
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
# Each group runs in a forked child (see docs/PERFORMANCE.md); the other checks
# compare the derived files those tasks write, in this process. The report is the same bytes
# however they run.
EARLY = (records.MEASURED_KINDS, ("manifests", "docs", "ledger"))  # a measured kind's check bears its name


def run(project: Project, strict: bool = False) -> list[CheckResult]:
    """Every check's result, in the fixed order of ``CHECKS``."""
    if strict:  # one check after another; those after a failure are skipped
        results: list[CheckResult] = []
        for check in CHECKS:
            if any(r.status == "fail" for r in results):
                results.append(CheckResult(_name(check), "skipped", reason="--strict: an earlier check failed"))
            else:
                results.append(_run_one(check, project))
        return results
    groups = early(project, forked.Forked)  # begun ahead (see headstart), or here
    early_names = {name for group in EARLY for name in group}
    found = {_name(c): _run_one(c, project) for c in CHECKS if _name(c) not in early_names}
    for group in groups:
        found.update((r.name, r) for r in group.result())
    return [found[_name(c)] for c in CHECKS]


def early(project: Project, how: products.How) -> list[forked.Forked[list[CheckResult]]]:
    """The checks of inputs, a group per child (``how``), once per version of the ledgers."""
    by_name = {_name(c): c for c in CHECKS}

    def begin() -> list[forked.Forked[list[CheckResult]]]:
        return [how(lambda group=group: [_run_one(by_name[n], project) for n in group]) for group in EARLY]

    return project.remember(("early checks", products.ledger_versions(project)), begin)


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
