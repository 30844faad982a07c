"""The memos under ``.t4/memo/`` never serve a stale result: real ``t4`` runs on real git repos.

Each test builds a small two-module repository, commits it, and warms the memos the way a user's
repository has them: one run, the generated files committed, and a full run (``t4 forget``) whose
memos are keyed by the same file listing the next run sees. Then one input changes and the next
run must show the change.

Where the test can, it also marks a remembered result of an *unchanged* input with a sentinel
before that run: the sentinel showing up proves the run really answered from the memo (so the
test exercises the memo, not a cold recomputation), while the changed input's new value proves
the memo did not answer for it.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import orjson
import pytest

from t4tasks.ledgers import ledger, observed
from t4tasks.speed import digests

from tests.support import GENERATED, MANIFEST, OUTPUTS, git, git_init, make_repo, manifest, run_t4

SENTINEL = "REMEMBERED-BY-THE-MEMO"
ALPHA_README = "# Alpha\n\nAdds numbers. For how, see [usage](../beta/README.md#usage).\n"
BETA_README = "# Beta\n\nMultiplies numbers.\n\n## Usage\n\nCall mul.\n"


def build(root: Path, observations: bool = False) -> Path:
    make_repo(root, {
        "alpha": manifest("alpha", description="Adds numbers.", owner="team-a"),
        "beta": manifest("beta", description="Multiplies numbers.", owner="team-b"),
    }, files={
        "alpha/__init__.py": '"""Alpha adds numbers together."""\n\n\ndef add(a, b):\n    return a + b\n',
        "beta/__init__.py": '"""Beta multiplies numbers."""\n\n\ndef mul(a, b):\n    return a * b\n',
        "alpha/README.md": ALPHA_README,
        "beta/README.md": BETA_README,
    })
    if observations:
        for name, value in (("alpha", 87.5), ("beta", 91.25)):
            record = ledger.new_record("coverage", name, {"coverage": value, "status": "ok"},
                                       hashlib.sha256(name.encode()).hexdigest())
            ledger.append(root / "manifests" / ".ledger" / "coverage.ndjson", record)
            observed.set_coverage(root / name / MANIFEST, root.parent / "locks", value,
                                  record[ledger.TS], record[ledger.INPUT_DIGEST])
    return git_init(root)


def validate(root: Path) -> tuple[int, dict, str]:
    code, out, err = run_t4(root, "validate")
    assert "Traceback" not in out + err, out + err
    return code, orjson.loads((root / GENERATED / "VALIDATION_REPORT.json").read_bytes()), out + err


def checks(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


def warm(root: Path) -> dict:
    """Fill ``.t4/memo/`` under the listing the next run will see; the report of the warm run.

    Memo keys name a clean tracked file by its git blob id only once its ctime is older than the
    listing by ``GIT_MARGIN_SECONDS`` (before that, by its sha256: the same content, another id,
    so a miss). The inputs were written just before this; the warm run waits out that margin so it
    keys unchanged files exactly as the next run will, and the next run can answer from the memo."""
    settled = time.time() + digests.GIT_MARGIN_SECONDS + 0.2
    validate(root)                       # writes docs/_generated/ and trends/ ...
    git(root, "add", "-A")               # ... which a user commits
    git(root, "commit", "-q", "-m", "generated")
    code, out, err = run_t4(root, "forget")
    assert code == 0, out + err
    time.sleep(max(0.0, settled - time.time()))
    _, report, _ = validate(root)        # every task runs: memos keyed by today's listing
    assert {"docs.json", "summaries.json", "registry.json", "modules.json"} <= {
        p.name for p in (root / ".t4" / "memo").iterdir()}
    return report


def generated(root: Path, name: str) -> dict:
    return orjson.loads((root / GENERATED / name).read_bytes())


def store(root: Path, name: str) -> Path:
    return root / ".t4" / "memo" / f"{name}.json"


def mark(root: Path, name: str, match, change) -> str:
    """Replace the one remembered value of memo ``name`` that ``match`` selects by ``change(value)``;
    return the code id the store was written by."""
    path = store(root, name)
    data = orjson.loads(path.read_bytes())
    hits = [key for key, value in data["entries"].items() if match(value)]
    assert len(hits) == 1, (name, data["entries"])
    data["entries"][hits[0]] = change(data["entries"][hits[0]])
    path.write_bytes(orjson.dumps(data))
    return data["code"]


def same_code(root: Path, name: str, code: str) -> bool:
    """Whether the run kept the memo's code id. T4's code is edited in place while tests run; a
    changed code id means every memo was rightly discarded, and the sentinel cannot show."""
    return orjson.loads(store(root, name).read_bytes())["code"] == code


# ---------------------------------------------------------------------------------------------


def test_a_renamed_heading_breaks_the_anchor_of_a_remembered_linking_file(no_outer_git):
    root = build(no_outer_git / "repo")
    report = warm(root)
    assert checks(report)["docs"]["status"] == "pass", checks(report)["docs"]
    # alpha's README does not change: its parse (links included) is remembered ...
    code_id = mark(root, "docs", lambda v: [3, "../beta/README.md#usage"] in v["links"],
                   lambda v: {**v, "problems": [[1, SENTINEL]]})

    # ... while the heading it links to is renamed
    (root / "beta" / "README.md").write_text(BETA_README.replace("## Usage", "## How to call it"))
    code, report, out = validate(root)
    assert code != 0
    docs = checks(report)["docs"]
    assert docs["status"] == "fail"
    assert ("alpha/README.md:3: broken link: ../beta/README.md#usage (no heading #usage in beta/README.md)"
            in docs["problems"]), docs
    if same_code(root, "docs", code_id):
        assert f"alpha/README.md:1: {SENTINEL}" in docs["problems"]   # alpha's parse came from the memo

    # and back: the anchor exists again, the broken link is gone
    (root / "beta" / "README.md").write_text(BETA_README)
    _, report, _ = validate(root)
    assert not any("broken link" in p for p in checks(report)["docs"]["problems"])


def test_a_changed_docstring_changes_the_summary(no_outer_git):
    root = build(no_outer_git / "repo")
    warm(root)
    summaries = generated(root, "MODULE_SUMMARIES.json")["modules"]
    assert summaries["alpha"]["summary"] == "Alpha adds numbers together."
    assert summaries["beta"]["summary"] == "Beta multiplies numbers."
    code_id = mark(root, "summaries", lambda v: v[0] == "Beta multiplies numbers.",
                   lambda v: [SENTINEL, v[1]])

    init = root / "alpha" / "__init__.py"
    init.write_text(init.read_text().replace("Alpha adds numbers together.", "Alpha sums two integers."))
    validate(root)
    summaries = generated(root, "MODULE_SUMMARIES.json")["modules"]
    assert summaries["alpha"]["summary"] == "Alpha sums two integers."
    if same_code(root, "summaries", code_id):
        assert summaries["beta"]["summary"] == SENTINEL    # beta's files did not change: remembered
    index = (root / GENERATED / "MODULE_INDEX.md").read_text()
    assert "Alpha sums two integers." in index and "Alpha adds numbers together." not in index


@pytest.mark.slow
def test_a_changed_manifest_changes_the_registry_and_the_manifest_check(no_outer_git):
    root = build(no_outer_git / "repo")
    report = warm(root)
    assert checks(report)["manifests"]["status"] == "pass", checks(report)["manifests"]
    code_id = mark(root, "registry", lambda v: v["name"] == "beta", lambda v: {**v, "description": SENTINEL})

    path = root / "alpha" / MANIFEST
    data = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**data, "description": "Adds numbers, and subtracts them."}))
    code, out, err = run_t4(root, "registry", "docmap")
    assert code == 0, out + err
    entries = {e["name"]: e for e in generated(root, "MODULE_REGISTRY.json")["modules"]}
    assert entries["alpha"]["description"] == "Adds numbers, and subtracts them."
    if same_code(root, "registry", code_id):
        assert entries["beta"]["description"] == SENTINEL   # beta's manifest did not change: remembered
    assert "Adds numbers, and subtracts them." in (root / GENERATED / "MODULE_INDEX.md").read_text()

    # a placeholder owner: the manifest check (remembered per manifest content) sees it
    data = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**data, "owner": "TODO"}))
    code, report, out = validate(root)
    assert code != 0
    manifests = checks(report)["manifests"]
    assert manifests["status"] == "fail"
    assert manifests["problems"] == [
        "alpha/module.manifest.json: /owner: placeholder 'TODO': replace it with the real owner"]
    assert {e["name"]: e for e in generated(root, "MODULE_REGISTRY.json")["modules"]}["alpha"]["owner"] == "TODO"


def test_a_hand_edited_observation_fails_the_ledger_check(no_outer_git):
    root = build(no_outer_git / "repo", observations=True)
    report = warm(root)
    assert checks(report)["ledger"]["status"] == "pass", checks(report)["ledger"]
    code_id = mark(root, "observations", lambda v: v["module"] == "beta",
                   lambda v: {**v, "testing": {**v["testing"], "coverage_observed": 12.5}})

    path = root / "alpha" / MANIFEST
    data = orjson.loads(path.read_bytes())
    data["testing"]["coverage_observed"] = 99.0
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    code, report, out = validate(root)
    assert code != 0
    problems = checks(report)["ledger"]["problems"]
    alpha = [p for p in problems if p.startswith("alpha/module.manifest.json:")]
    assert len(alpha) == 1 and "observed coverage 99.0 differs from the ledger record" in alpha[0], problems
    assert alpha[0].endswith("the manifest was edited by hand")
    if same_code(root, "observations", code_id):
        # beta's manifest did not change: its observed block came from the memo
        assert any(p.startswith("beta/module.manifest.json: observed coverage 12.5") for p in problems), problems

    # restoring the recorded value makes alpha consistent again
    data["testing"]["coverage_observed"] = 87.5
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    _, report, _ = validate(root)
    assert not any(p.startswith("alpha/") for p in checks(report)["ledger"]["problems"])


def test_a_new_tests_folder_reaches_the_remembered_module(no_outer_git):
    """The manifest is unchanged, but where a module's tests are depends on the listing too."""
    root = build(no_outer_git / "repo")
    warm(root)
    assert {e["name"]: e["tests"] for e in generated(root, "MODULE_REGISTRY.json")["modules"]} == {
        "alpha": [], "beta": []}
    (root / "alpha" / "tests").mkdir()
    (root / "alpha" / "tests" / "test_alpha.py").write_text("def test_add():\n    assert True\n")
    git(root, "add", "alpha/tests")
    code, out, err = run_t4(root, "registry")
    assert code == 0, out + err
    assert {e["name"]: e["tests"] for e in generated(root, "MODULE_REGISTRY.json")["modules"]} == {
        "alpha": ["alpha/tests"], "beta": []}


def snapshot(root: Path) -> dict[str, bytes]:
    names = [*OUTPUTS, "META_REGISTRY.json", "VALIDATION_REPORT.json", "VALIDATION_REPORT.md"]
    return {name: (root / GENERATED / name).read_bytes() for name in names}


@pytest.mark.slow
def test_results_without_the_memo_are_byte_identical(no_outer_git):
    root = build(no_outer_git / "repo", observations=True)
    warm(root)
    # a new module: the listing changes, so this run re-keys every listing-dependent memo ...
    (root / "gamma").mkdir()
    (root / "gamma" / MANIFEST).write_bytes(orjson.dumps(manifest("gamma", description="New.", owner="t")))
    (root / "gamma" / "README.md").write_text("# Gamma\n\nSee [alpha](../alpha/README.md#alpha).\n")
    git(root, "add", "gamma")            # a manifest counts once git tracks it
    validate(root)
    # ... and the next run, with the same listing, answers the unchanged rest from the memo
    init = root / "beta" / "__init__.py"
    init.write_text(init.read_text().replace("Beta multiplies numbers.", "Beta multiplies two numbers."))
    (root / "beta" / "README.md").write_text(BETA_README.replace("## Usage", "## Calling"))
    path = root / "alpha" / MANIFEST
    data = orjson.loads(path.read_bytes())
    data["description"] = "Adds numbers, quickly."
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    validate(root)
    with_memo = snapshot(root)
    registry = orjson.loads(with_memo["MODULE_REGISTRY.json"])
    assert {e["name"]: e["description"] for e in registry["modules"]} == {
        "alpha": "Adds numbers, quickly.", "beta": "Multiplies numbers.", "gamma": "New."}
    assert orjson.loads(with_memo["MODULE_SUMMARIES.json"])["modules"]["beta"]["summary"] == "Beta multiplies two numbers."
    assert b"no heading #usage" in with_memo["VALIDATION_REPORT.json"]

    shutil.rmtree(root / ".t4" / "memo")
    for name in with_memo:
        (root / GENERATED / name).unlink()
    code, out, err = run_t4(root, "forget")
    assert code == 0, out + err
    validate(root)
    without_memo = snapshot(root)
    assert without_memo == with_memo
    assert (root / ".t4" / "memo" / "docs.json").is_file()    # and the memo is filled again


def test_a_retargeted_link_is_seen_through_the_memo(no_outer_git):
    # alpha's code is a committed link to a folder inside the repository; pointing the link
    # outside must fail the manifest check even though no manifest and no listed path changed
    root = no_outer_git / "repo"
    outside = no_outer_git / "outside"
    (outside / "pkg").mkdir(parents=True)
    (outside / "pkg" / "__init__.py").write_text("x = 1\n")
    make_repo(root, {"alpha": manifest("alpha", description="Adds.", owner="team-a",
                                       layout={"paths": {"code": "src"}})},
              files={"alpha/real/__init__.py": '"""Real code."""\n', "alpha/README.md": "# Alpha\n"})
    (root / "alpha" / "src").symlink_to("real")
    git_init(root)
    for _ in range(2):  # a link to a folder is followed, not hashed as a file (it used to crash)
        code, report, out = validate(root)
        assert code == 0, out
    (root / "alpha" / "src").unlink()
    (root / "alpha" / "src").symlink_to(outside / "pkg")
    code, report, out = validate(root)
    assert code != 0, out
    assert checks(report)["manifests"]["problems"] == [
        "alpha/module.manifest.json: /layout/paths/code: 'src' leaves the repository root"], out
