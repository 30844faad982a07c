"""ledger_check: observed values must equal ledger records, ledgers must be untouched, and each
commit that changes an observed block must add its record, on real files and real git repositories.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t4tasks.checks.ledger_check import check_chains, check_git_range, check_observations
from t4tasks.ledgers import ledger, observed
from t4tasks.problems import Problem

from tests.support import MANIFEST, git, git_init, make_repo, manifest

LEDGER_DIR = "manifests/.ledger"
ALPHA = f"alpha/{MANIFEST}"
BETA = f"beta/{MANIFEST}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two modules; manifest locks live outside the repository so commits never pick them up."""
    return make_repo(tmp_path / "repo", {"alpha": manifest("alpha"), "beta": manifest("beta")})


def record_coverage(root: Path, module: str, coverage: float, digest: str) -> dict:
    """Record a coverage measurement the way ``record.record_coverage`` does: ledger, then manifest."""
    entry = ledger.new_record("coverage", module, {"coverage": coverage}, digest)
    assert ledger.append(root / LEDGER_DIR / "coverage.ndjson", entry)
    observed.set_coverage(root / module / MANIFEST, root.parent / "locks", coverage,
                          entry[ledger.TS], digest)
    return entry


def record_bench(root: Path, module: str, p95: float, digest: str) -> dict:
    """Record a benchmark the way ``record.record_bench`` does: ledger, then manifest."""
    summary = {"p50_ms": 1.0, "p95_ms": p95, "p99_ms": 9.0}
    entry = ledger.new_record("bench", module, {"summary": summary, "env_fingerprint": "env-1"}, digest)
    assert ledger.append(root / LEDGER_DIR / "bench.ndjson", entry)
    observed.set_bench(root / module / MANIFEST, root.parent / "locks", summary, entry[ledger.TS],
                       "env-1", digest)
    return entry


def manifests(root: Path) -> dict[str, dict]:
    return {p.relative_to(root).as_posix(): json.loads(p.read_text()) for p in root.glob(f"**/{MANIFEST}")}


def observation_problems(root: Path) -> list[Problem]:
    return check_observations(root, manifests(root), root / LEDGER_DIR)


def edit_manifest(root: Path, relpath: str, change) -> None:
    data = json.loads((root / relpath).read_text())
    change(data)
    (root / relpath).write_text(json.dumps(data, indent=2) + "\n")


def ledger_lines(root: Path, name: str = "coverage.ndjson") -> list[bytes]:
    return (root / LEDGER_DIR / name).read_bytes().splitlines()


def write_ledger_lines(root: Path, lines: list[bytes], name: str = "coverage.ndjson") -> None:
    (root / LEDGER_DIR / name).write_bytes(b"".join(line + b"\n" for line in lines))


def commit(root: Path, message: str) -> str:
    """Commit everything; return the short sha, as check_git_range names commits."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "--short", "HEAD").strip()


# --- the working tree: manifests against ledgers -------------------------------------------------

def test_recorded_observations_are_consistent(repo: Path) -> None:
    record_coverage(repo, "alpha", 40.0, "a1")
    record_coverage(repo, "alpha", 50.0, "a2")  # the manifest shows the latest of several records
    record_coverage(repo, "beta", 0.0, "b1")    # 0.0 is a value like any other
    record_bench(repo, "alpha", 5.0, "ab1")
    assert observation_problems(repo) == []
    assert check_chains(repo / LEDGER_DIR) == []


@pytest.mark.parametrize("change, what", [
    (lambda m: m["testing"].update(coverage_observed=95.0), "coverage 95.0"),
    (lambda m: m["performance"]["observed"].update(latency_p95_ms=1.5), "latency_p95_ms=1.5"),
])
def test_hand_edited_observed_value_is_reported(repo: Path, change, what: str) -> None:
    record_coverage(repo, "alpha", 50.0, "a1")
    record_bench(repo, "alpha", 5.0, "ab1")
    edit_manifest(repo, ALPHA, change)
    [problem] = observation_problems(repo)
    assert problem.path == ALPHA
    assert what in problem.message and "edited by hand" in problem.message
    assert check_chains(repo / LEDGER_DIR) == []  # the ledger itself is intact


def test_observed_value_without_any_record_is_reported(repo: Path) -> None:
    observed.set_coverage(repo / ALPHA, repo.parent / "locks", 80.0, "2025-01-01T00:00:00.000000+00:00", "d1")
    assert [str(p) for p in observation_problems(repo)] == [
        f"{ALPHA}: observed coverage 80.0 at 2025-01-01T00:00:00.000000+00:00 (digest d1) "
        "has no ledger record of alpha"]


def test_a_record_of_another_module_does_not_back_an_observation(repo: Path) -> None:
    """The join includes the module: beta's record cannot vouch for alpha's manifest."""
    entry = record_coverage(repo, "beta", 50.0, "d1")
    observed.set_coverage(repo / ALPHA, repo.parent / "locks", 50.0, entry[ledger.TS], "d1")
    assert [p.path for p in observation_problems(repo)] == [ALPHA]


def test_deleted_ledger_line_is_reported_twice(repo: Path) -> None:
    """Once as an observation without a record, once as a break in the hash chain."""
    record_coverage(repo, "alpha", 50.0, "a1")
    record_coverage(repo, "beta", 30.0, "b1")
    record_bench(repo, "alpha", 5.0, "ab1")
    _, second = ledger_lines(repo)
    write_ledger_lines(repo, [second])  # alpha's coverage record is gone
    [problem] = observation_problems(repo)
    assert problem.path == ALPHA and "coverage 50.0" in problem.message
    assert "has no ledger record of alpha" in problem.message
    assert check_chains(repo / LEDGER_DIR) == [
        Problem(str(repo / LEDGER_DIR / "coverage.ndjson"),
                "prev is set but no line precedes it: earlier lines were deleted", 1)]


def test_edited_ledger_value_breaks_the_chain(repo: Path) -> None:
    record_coverage(repo, "alpha", 50.0, "a1")
    record_coverage(repo, "beta", 30.0, "b1")
    first, second = ledger_lines(repo)
    write_ledger_lines(repo, [first.replace(b'"coverage":50.0', b'"coverage":51.0'), second])
    [chain] = check_chains(repo / LEDGER_DIR)
    assert chain.line == 1 and "hash chain broken" in chain.message
    [problem] = observation_problems(repo)  # the manifest no longer equals its record either
    assert problem.path == ALPHA and "51.0" in problem.message


def test_torn_ledger_line_is_reported_by_check_chains(repo: Path) -> None:
    record_coverage(repo, "alpha", 50.0, "a1")
    with (repo / LEDGER_DIR / "coverage.ndjson").open("ab") as handle:
        handle.write(b'{"module": "be')  # a writer killed mid-line
    [problem] = check_chains(repo / LEDGER_DIR)
    assert problem.line == 2 and "skipped ledger line" in problem.message
    assert observation_problems(repo) == []  # the torn line does not hide alpha's record


def test_legacy_observation_matches_only_the_exact_timestamp(repo: Path) -> None:
    """Manifests from before T4 carry no digest: (module, ts, value) must equal a legacy record."""
    ts = "2025-10-05T10:10:42.089407+00:00"
    (repo / LEDGER_DIR).mkdir(parents=True)
    (repo / LEDGER_DIR / "coverage.ndjson").write_text(
        json.dumps({"ts": ts, "module": "alpha", "coverage": 36.5}) + "\n")
    edit_manifest(repo, ALPHA, lambda m: m.update(testing={"coverage_observed": 36.5, "observed_at": ts}))
    assert observation_problems(repo) == []
    edit_manifest(repo, ALPHA, lambda m: m["testing"].update(observed_at="2025-10-05T10:10:42.088842+00:00"))
    [problem] = observation_problems(repo)
    assert problem.path == ALPHA and "legacy observed coverage 36.5" in problem.message


def test_lukhas_observations_are_reported_because_their_timestamps_differ_by_a_millisecond(
        lukhas: Path) -> None:
    """The fixture's manifests were stamped ~1 ms before its ledger lines: with no tolerance window
    that is a mismatch, and it is reported. Copying the ledger's ts into a manifest clears it."""
    found = {p.path: p.message for p in observation_problems(lukhas)}
    assert sorted(found) == sorted(["MATRIZ/module.manifest.json", "consciousness/module.manifest.json",
                                    "governance/module.manifest.json", "identity/module.manifest.json",
                                    "memory/module.manifest.json"])
    assert found["identity/module.manifest.json"] == (
        "legacy observed coverage 36.5 at 2025-10-05T10:10:42.088842+00:00 (no digest) equals no "
        "ledger record of identity with that exact timestamp; manifests/.ledger/coverage.ndjson:3 "
        "records that value at 2025-10-05T10:10:42.089407+00:00")
    edit_manifest(lukhas, "identity/module.manifest.json",
                  lambda m: m["testing"].update(observed_at="2025-10-05T10:10:42.089407+00:00"))
    assert "identity/module.manifest.json" not in {p.path for p in observation_problems(lukhas)}


# --- history: each commit that changes an observed block adds its record ------------------------

@pytest.fixture
def history(repo: Path) -> Path:
    """A repository whose first commit records coverage and bench for alpha properly."""
    record_coverage(repo, "alpha", 50.0, "a1")
    record_bench(repo, "alpha", 5.0, "ab1")
    return git_init(repo)


def test_properly_recorded_commits_are_not_reported(history: Path) -> None:
    record_coverage(history, "alpha", 60.0, "a2")
    record_coverage(history, "beta", 10.0, "b1")
    record_bench(history, "alpha", 6.0, "ab2")
    commit(history, "measure")
    assert check_git_range(history, "HEAD") == []  # the root commit and this one


@pytest.mark.parametrize("kind, change", [
    ("coverage", lambda m: m["testing"].update(coverage_observed=95.0)),
    ("bench", lambda m: m["performance"]["observed"].update(latency_p95_ms=1.5)),
])
def test_commit_changing_an_observed_block_without_a_record_is_reported(history: Path, kind: str,
                                                                         change) -> None:
    edit_manifest(history, ALPHA, change)
    sha = commit(history, "hand edit")
    record_coverage(history, "beta", 10.0, "b1")
    commit(history, "a proper one after it")
    assert check_git_range(history, "HEAD") == [
        Problem(f"commit {sha}", f"{ALPHA}: observed {kind} changed without a matching ledger record")]
    assert str(check_git_range(history, "HEAD~2..HEAD")[0]).startswith(f"commit {sha}: {ALPHA}: ")
    assert check_git_range(history, "HEAD~1..HEAD") == []  # outside the range


def test_observed_block_copied_from_an_older_record_is_reported(history: Path) -> None:
    """A record of the same module is not enough: the commit must add the one that equals the block."""
    older = json.loads((history / ALPHA).read_text())["testing"]
    record_coverage(history, "alpha", 60.0, "a2")
    commit(history, "measure")
    edit_manifest(history, ALPHA, lambda m: m["testing"].update(older))
    record_coverage(history, "beta", 10.0, "b1")  # the commit adds a line, just not alpha's
    sha = commit(history, "revert the observation by hand")
    assert [p.path for p in check_git_range(history, "HEAD")] == [f"commit {sha}"]


def test_rewritten_ledger_line_is_reported(history: Path) -> None:
    """Editing the last record together with its manifest fools the chain and the join, not git."""
    *earlier, last = ledger_lines(history)
    write_ledger_lines(history, [*earlier, last.replace(b'"coverage":50.0', b'"coverage":95.0')])
    edit_manifest(history, ALPHA, lambda m: m["testing"].update(coverage_observed=95.0))
    assert observation_problems(history) == [] and check_chains(history / LEDGER_DIR) == []
    sha = commit(history, "forge")
    [problem] = check_git_range(history, "HEAD")
    assert problem.path == f"commit {sha}"
    assert problem.message.startswith(f"{LEDGER_DIR}/coverage.ndjson: the coverage record of alpha at ")
    assert problem.message.endswith(" was removed or rewritten (ledgers are append-only)")


def test_invalid_range_is_one_problem(history: Path) -> None:
    [problem] = check_git_range(history, "no-such-branch..HEAD")
    assert problem.path == "git range no-such-branch..HEAD" and problem.message


def branch_and_merge(root: Path, on_feature, on_main, *, edit_merge=None) -> dict[str, str]:
    """feature and main diverge (one commit each), then main merges feature with a merge commit.

    Feature records into the bench ledger and main into the coverage ledger, so the merge has no
    conflicts. Returns the short shas by name.
    """
    git(root, "checkout", "-q", "-b", "feature")
    on_feature(root)
    shas = {"feature": commit(root, "feature")}
    git(root, "checkout", "-q", "main")
    on_main(root)
    shas["main"] = commit(root, "main")
    git(root, "merge", "-q", "--no-ff", "--no-commit", "feature")
    if edit_merge is not None:
        edit_merge(root)
    shas["merge"] = commit(root, "merge feature")
    assert len(git(root, "rev-list", "--parents", "-n1", "HEAD").split()) == 3
    return shas


def test_merge_bringing_in_a_recorded_change_is_not_reported(history: Path) -> None:
    branch_and_merge(history, lambda r: record_bench(r, "alpha", 7.0, "ab2"),
                     lambda r: record_coverage(r, "beta", 10.0, "b1"))
    assert check_git_range(history, "HEAD") == []
    assert observation_problems(history) == []


def test_merge_bringing_in_an_unrecorded_change_is_not_blamed_for_it(history: Path) -> None:
    """The branch commit that hand-edited the block is reported; the merge did not introduce it."""
    shas = branch_and_merge(
        history, lambda r: edit_manifest(r, ALPHA, lambda m: m["performance"]["observed"].update(
            latency_p95_ms=1.5)),
        lambda r: record_coverage(r, "beta", 10.0, "b1"))
    assert check_git_range(history, "HEAD") == [
        Problem(f"commit {shas['feature']}", f"{ALPHA}: observed bench changed without a matching ledger record")]


def test_merge_introducing_its_own_unrecorded_change_is_reported(history: Path) -> None:
    shas = branch_and_merge(
        history, lambda r: record_bench(r, "alpha", 7.0, "ab2"),
        lambda r: record_coverage(r, "beta", 10.0, "b1"),
        edit_merge=lambda r: edit_manifest(r, BETA, lambda m: m["testing"].update(coverage_observed=99.0)))
    assert check_git_range(history, "HEAD") == [
        Problem(f"commit {shas['merge']}", f"{BETA}: observed coverage changed without a matching ledger record")]
