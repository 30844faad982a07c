"""``t4 coverage_gate`` end to end: real repositories, real git, real measurements, the real CLI.

Each test measures with ``t4 coverage`` (never by writing ledger lines by hand) and then gates;
the lane test reads the lukhas fixture's real manifests and legacy ledger.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support import doit_tasks, git, git_init, make_repo, manifest, run_t4, write

from t4tasks.catalog.project import Project
from t4tasks.checks import coverage_gate

# sign(5) only: (3 lines + 1 arc) of (4 lines + 2 arcs) = 66.67 %; both signs: 100 %
CODE = "def sign(x):\n    if x > 0:\n        return 1\n    return -1\n"
POSITIVE = "def test_positive():\n    assert sign(5) == 1\n"
NEGATIVE = "\n\ndef test_negative():\n    assert sign(-5) == -1\n"
FAILING = "\n\ndef test_wrong():\n    assert sign(5) == 2\n"

LINE = re.compile(r"^(?P<module>\S+)\s+observed\s+(?P<observed>\S+)\s+target\s+(?P<target>\S+)\s+"
                  r"delta\s+(?P<delta>\S+)\s+(?P<status>\S+)")


def module_tests(name: str, *bodies: str) -> str:
    return f"from {name}.core import sign\n\n\n" + "".join(bodies)


def repo(root: Path, modules: dict[str, dict], tests: dict[str, tuple[str, ...]]) -> Path:
    files = {}
    for name in modules:
        files[f"{name}/__init__.py"] = ""
        files[f"{name}/core.py"] = CODE
        if tests.get(name):
            files[f"{name}/tests/test_core.py"] = module_tests(name, *tests[name])
    # the host measures branches: the gate judges coverage.py's combined figure
    make_repo(root, modules, files=files, pyproject="[tool.coverage.run]\nbranch = true\n")
    return git_init(root)


def measure(root: Path, *tasks: str) -> list[str]:
    code, out, err = run_t4(root, *(tasks or ("coverage",)))
    assert code == 0, out + err
    return doit_tasks(out)[0]


def gate(root: Path, *options: str) -> tuple[int, dict[str, dict], str]:
    """Run the gate: (exit code, parsed line per module, whole output)."""
    code, out, err = run_t4(root, "coverage_gate", *options)
    lines = {}
    for text in out.splitlines():
        if m := LINE.match(text):
            lines[m["module"]] = {**m.groupdict(), "text": text}
    return code, lines, out + err


def number(text: str) -> float | None:
    return None if text == "—" else float(text)


def set_tests(root: Path, name: str, *bodies: str) -> None:
    write(root / name / "tests" / "test_core.py", module_tests(name, *bodies))


@pytest.mark.slow
def test_below_target_fails_and_raising_coverage_passes(tmp_path):
    root = repo(tmp_path / "repo", {"alpha": manifest("alpha")}, {"alpha": (POSITIVE,)})  # L1: 75 %
    measure(root)
    code, lines, out = gate(root)
    assert code != 0, out
    line = lines["alpha"]
    assert (number(line["observed"]), number(line["target"]), number(line["delta"])) == (66.67, 75.0, -8.33)
    assert line["status"] == "below_target"
    assert "1 module(s) fail" in out or "0 of 1 modules pass" in out

    set_tests(root, "alpha", POSITIVE, NEGATIVE)
    assert measure(root) == ["coverage:alpha"]
    code, lines, out = gate(root)
    assert code == 0, out
    assert lines["alpha"]["status"] == "pass"
    assert (number(lines["alpha"]["observed"]), number(lines["alpha"]["delta"])) == (100.0, 25.0)


@pytest.mark.slow
def test_stale_failing_and_unmeasured_modules_fail(tmp_path):
    modules = {n: manifest(n, testing={"coverage_target": 50}) for n in ("fresh", "stale", "failing", "never")}
    root = repo(tmp_path / "repo", modules, {"fresh": (POSITIVE,), "stale": (POSITIVE,),
                                             "failing": (POSITIVE, FAILING), "never": (POSITIVE,)})
    measure(root, "coverage:fresh", "coverage:stale", "coverage:failing")
    # the code changes after the measurement, and nobody measures again
    with open(root / "stale" / "core.py", "a") as handle:
        handle.write("\n\ndef zero():\n    return 0\n")

    code, lines, out = gate(root)
    assert code != 0, out
    status = {name: line["status"] for name, line in lines.items()}
    assert status == {"fresh": "pass", "stale": "stale", "failing": "tests_failed", "never": "no_observation"}
    assert number(lines["stale"]["observed"]) == 66.67
    assert number(lines["never"]["observed"]) is None
    assert "1 of 4 modules pass" in out

    # measuring again makes the stale one fresh (and passing: (4 + 1) / (6 + 2) = 62.5 % >= 50)
    measure(root, "coverage:stale")
    code, lines, out = gate(root)
    assert lines["stale"]["status"] == "pass" and number(lines["stale"]["observed"]) == 62.5, out


@pytest.mark.slow
def test_manifest_target_overrides_the_lane(tmp_path):
    root = repo(tmp_path / "repo", {
        "lane_only": manifest("lane_only", matrix={"lane": "L1"}),                              # 75
        "override": manifest("override", matrix={"lane": "L1"}, testing={"coverage_target": 60}),
        "strict": manifest("strict", matrix={"lane": "L0"}, testing={"coverage_target": 95}),   # L0 = 70
    }, {"lane_only": (POSITIVE,), "override": (POSITIVE,), "strict": (POSITIVE,)})
    measure(root)
    code, lines, out = gate(root)
    assert code != 0
    assert (number(lines["lane_only"]["target"]), lines["lane_only"]["status"]) == (75.0, "below_target")
    assert (number(lines["override"]["target"]), lines["override"]["status"]) == (60.0, "pass")
    assert (number(lines["strict"]["target"]), lines["strict"]["status"]) == (95.0, "below_target")
    assert number(lines["override"]["delta"]) == 6.67

    # lane targets come from [tool.t4] lanes when configured; the manifest still wins (the host's
    # coverage settings stay: changing them would make every measurement stale)
    write(root / "pyproject.toml", "[tool.coverage.run]\nbranch = true\n\n[tool.t4.lanes]\nL1 = 60\nL0 = 50\n")
    code, lines, out = gate(root)
    assert (number(lines["lane_only"]["target"]), lines["lane_only"]["status"]) == (60.0, "pass"), out
    assert (number(lines["strict"]["target"]), lines["strict"]["status"]) == (95.0, "below_target"), out


def test_changed_since_gates_only_changed_modules(tmp_path):
    low = {"coverage_target": 90}
    root = repo(tmp_path / "repo", {"alpha": manifest("alpha", testing=low), "beta": manifest("beta")},
                {"alpha": (POSITIVE,), "beta": (POSITIVE, NEGATIVE)})
    measure(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "measured")  # manifests and ledger are committed, as users do

    # beta changes (and is measured again); alpha, still below its target, does not
    with open(root / "beta" / "core.py", "a") as handle:
        handle.write("\n\ndef ok():\n    return True\n")
    write(root / "beta" / "tests" / "test_more.py", "from beta.core import ok\n\n\ndef test_ok():\n    assert ok()\n")
    assert measure(root) == ["coverage:beta"]
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "beta grows")

    code, lines, out = gate(root)
    assert code != 0 and lines["alpha"]["status"] == "below_target", out
    code, lines, out = gate(root, "--changed-since", "HEAD~1")
    assert code == 0, out
    assert list(lines) == ["beta"] and lines["beta"]["status"] == "pass"
    assert "1 of 1 modules pass" in out

    # an uncommitted change counts too
    write(root / "alpha" / "extra.py", "X = 1\n")
    code, lines, out = gate(root, "--changed-since", "HEAD")
    assert sorted(lines) == ["alpha"] and code != 0, out

    # an unknown ref is a clear error, not a pass
    code, lines, out = gate(root, "--changed-since", "no-such-ref")
    assert code != 0 and "no-such-ref" in out and not lines


def test_ratchet_fails_a_drop_below_the_previous_value(tmp_path):
    root = repo(tmp_path / "repo", {"alpha": manifest("alpha", testing={"coverage_target": 50})},
                {"alpha": (POSITIVE, NEGATIVE)})
    measure(root)
    set_tests(root, "alpha", POSITIVE)  # 100 % -> 66.67 %, still above the target of 50
    assert measure(root) == ["coverage:alpha"]

    code, lines, out = gate(root)
    assert code == 0 and lines["alpha"]["status"] == "pass", out
    code, lines, out = gate(root, "--ratchet")
    assert code != 0, out
    assert lines["alpha"]["status"] == "ratchet" and number(lines["alpha"]["observed"]) == 66.67
    assert "dropped from 100.00" in lines["alpha"]["text"]

    # back up again: the ratchet passes
    set_tests(root, "alpha", POSITIVE, NEGATIVE)
    measure(root)
    code, lines, out = gate(root, "--ratchet")
    assert code == 0 and lines["alpha"]["status"] == "pass", out


def test_ratchet_ignores_a_rise(tmp_path):
    root = repo(tmp_path / "repo", {"alpha": manifest("alpha", testing={"coverage_target": 50})},
                {"alpha": (POSITIVE,)})
    measure(root)
    set_tests(root, "alpha", POSITIVE, NEGATIVE)
    measure(root)
    code, lines, out = gate(root, "--ratchet")
    assert code == 0 and lines["alpha"]["status"] == "pass", out


# --------------------------------------------------------------------------------------------
# lanes on the lukhas fixture: lanes from matrix.lane, legacy ledger lines without input_digest

FIXTURE_COVERAGE = {"consciousness": 4.12, "memory": 18.53, "identity": 36.5, "governance": 0.23,
                    "matriz": 1.98}


def test_lane_gate_on_the_lukhas_fixture(lukhas, monkeypatch):
    project = Project.load(lukhas)
    assert project.modules
    lanes = {m.manifest.get("matrix", {}).get("lane") for m in project.modules}
    assert lanes == {"L2"}
    assert {m.lane for m in project.modules} == {"L2"}
    for module in project.modules:
        assert coverage_gate.target_of(project, module) == 80.0

    history, problems = coverage_gate.history(project)
    assert problems == []
    assert {name: entries[-1]["coverage"] for name, entries in history.items()} == FIXTURE_COVERAGE
    assert all("input_digest" not in e for entries in history.values() for e in entries)

    measured = [project.by_name[name] for name in sorted(FIXTURE_COVERAGE)]
    verdicts, problems = coverage_gate.run(project, measured)
    assert problems == []
    for verdict in verdicts:
        assert verdict.target == 80.0
        assert verdict.observed == FIXTURE_COVERAGE[verdict.module]
        assert verdict.status == "below_target" and verdict.failed
        assert f"{verdict.observed - 80:.2f}" in verdict.line()

    # the lane decides: move one module to L4 (90) in its manifest's matrix.lane
    path = lukhas / project.by_name["memory"].manifest_path
    data = json.loads(path.read_text(encoding="utf-8"))
    data["matrix"]["lane"] = "L4"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    project = Project.load(lukhas)
    assert coverage_gate.target_of(project, project.by_name["memory"]) == 90.0
    verdicts, _ = coverage_gate.run(project, [project.by_name["memory"]])
    assert (verdicts[0].target, verdicts[0].observed) == (90.0, 18.53)


def test_lane_gate_on_the_lukhas_fixture_through_the_cli(lukhas):
    code, out, err = run_t4(lukhas, "coverage_gate", timeout=300)
    assert code != 0
    lines = {m["module"]: m.groupdict() for m in map(LINE.match, out.splitlines()) if m}
    assert len(lines) == len(Project.load(lukhas).modules)
    for name, value in FIXTURE_COVERAGE.items():
        assert (number(lines[name]["observed"]), number(lines[name]["target"])) == (value, 80.0)
        assert lines[name]["status"] == "below_target"


# --------------------------------------------------------------------------------------------


def test_the_gate_api_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    root = repo(tmp_path / "repo", {"alpha": manifest("alpha")}, {"alpha": (POSITIVE, NEGATIVE)})
    measure(root)
    monkeypatch.chdir(tmp_path)
    project = Project.load(root)
    verdicts, _ = coverage_gate.run(project, project.modules)
    assert [v.status for v in verdicts] == ["pass"]
