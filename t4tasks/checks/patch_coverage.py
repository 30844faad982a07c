"""Patch coverage per module."""
# Of the executable lines changed since a base ref, how many the module's latest coverage
# measurement covers (the per-line data of ``measure.lines``).

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from t4tasks.catalog.module import Module
from t4tasks.catalog.project import Project
from t4tasks.checks import base_ref, coverage_gate
from t4tasks.ledgers import ledger, record
from t4tasks.measure import lines


@dataclass(frozen=True)
class Patch:
    module: str
    changed: int              # changed executable lines
    covered: int
    threshold: float | None
    status: str               # pass, below, no_lines, stale, unmeasured
    detail: str = ""

    @property
    def percent(self) -> float | None:
        return round(100 * self.covered / self.changed, 2) if self.changed else None

    @property
    def failed(self) -> bool:
        return self.threshold is not None and self.status in ("below", "stale", "unmeasured")

    def reason(self) -> str:
        """Why it failed, for a summary: the counts, the threshold and the status."""
        if self.status in ("stale", "unmeasured"):
            return f"{self.status}: {self.detail}"
        return f"{self.covered} of {self.changed} changed lines covered ({self.percent:.2f} %), under {self.threshold:g} %"

    def line(self) -> str:
        pct = "—" if self.percent is None else f"{self.percent:.2f}"
        under = "" if self.threshold is None else f"  fail under {self.threshold:g}"
        text = f"{self.module:<32} {self.covered:>5} of {self.changed:>5} changed lines covered  {pct:>6} %{under}  {self.status}"
        return text + (f" ({self.detail})" if self.detail else "")


def _owns(project: Project, module: Module, path: str) -> bool:
    """Whether ``path`` is one of the module's own source files (not tests, not nested modules)."""
    if not path.endswith(".py"):
        return False
    inside = lambda folder: folder == "." or path == folder or path.startswith(folder.rstrip("/") + "/")  # noqa: E731
    if not inside(module.code_path):
        return False
    return not any(inside(other) for other in (*module.test_paths, *project.excluded_paths(module))
                   if other != module.code_path)


def judge(project: Project, module: Module, changed: dict[str, set[int]], entry: dict | None,
          threshold: float | None) -> Patch:
    files = {path: numbers for path, numbers in changed.items() if _owns(project, module, path)}
    digest = (entry or {}).get(lines.FIELD)
    if entry is None or entry.get("status") != "ok" or digest is None:
        why = (f"the last coverage run was {entry.get('status')}" if entry is not None and entry.get("status") != "ok"
               else "no coverage measurement with per-line data")
        return Patch(module.name, 0, 0, threshold, "unmeasured", why)
    try:
        measured = lines.load(project.root, project.config.ledger_dir, digest)
    except lines.LinesError as exc:
        return Patch(module.name, 0, 0, threshold, "unmeasured", str(exc))
    total = covered = 0
    for path, numbers in sorted(files.items()):
        data = measured.get(path)
        try:
            now = lines.blob_id((project.root / path).read_bytes())
        except OSError:
            continue  # deleted in the working tree: no lines left to cover
        if data is None or data["blob"] != now:
            return Patch(module.name, 0, 0, threshold, "stale", f"{path} changed since the last measurement")
        executable = numbers & data["statements"]
        total += len(executable)
        covered += len(executable - data["missing"])
    if total == 0:
        return Patch(module.name, 0, 0, threshold, "no_lines", "no executable line changed")
    patch = Patch(module.name, total, covered, threshold, "pass")
    if threshold is not None and patch.percent < threshold:
        return Patch(module.name, total, covered, threshold, "below")
    return patch


def run(project: Project, ref: str, fail_under: float | None, lane_targets: bool) -> list[Patch]:
    """One ``Patch`` per module with a changed source file since ``ref``, sorted by name."""
    commit = base_ref.verify(project.root, ref)
    changed = base_ref.added_lines(project.root, commit)
    latest = ledger.latest(record.ledger_path(project, record.COVERAGE_LEDGER), kind="coverage") \
        if Path(record.ledger_path(project, record.COVERAGE_LEDGER)).exists() else {}
    patches = []
    for module in sorted(project.modules, key=lambda m: m.name):
        if not any(_owns(project, module, path) for path in changed):
            continue
        target = coverage_gate.target_of(project, module) if lane_targets else None
        threshold = target if target is not None else fail_under
        patches.append(judge(project, module, changed, latest.get(module.name), threshold))
    return patches
