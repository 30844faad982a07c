"""Every task T4 declares, run once by a user in a small repository: what each one promises."""

from __future__ import annotations

import orjson
import pytest

from tests.support import GENERATED, git, git_init, make_repo, manifest, run_t4

CODE = "def add(a, b):\n    return a + b\n"
TESTS = ("import pytest\nfrom {name} import add\n\n\n@pytest.mark.smoke\ndef test_add():\n"
         "    assert add(1, 2) == 3\n")
BENCH = "from {name} import add\n\n\ndef test_add_speed(benchmark):\n    benchmark(add, 1, 2)\n"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Two modules, one with benchmarks and an SLA, measured and validated once."""
    root = make_repo(tmp_path_factory.mktemp("every") / "r", {
        "alpha": manifest("alpha", owner="team-a", description="Adds numbers.",
                          performance={"sla": {"latency_p95_ms": 50}}),
        "beta": manifest("beta", owner="team-b", description="Adds numbers too."),
    }, files={
        "alpha/__init__.py": CODE, "alpha/README.md": "# alpha\n\nAdds numbers.\n",
        "alpha/tests/test_alpha.py": TESTS.format(name="alpha"),
        "alpha/benchmarks/test_speed.py": BENCH.format(name="alpha"),
        "beta/__init__.py": CODE, "beta/README.md": "# beta\n\nAdds numbers too.\n",
        "beta/tests/test_beta.py": TESTS.format(name="beta"),
        "pyproject.toml": '[tool.pytest.ini_options]\nmarkers = ["smoke: fast checks"]\n',
    })
    git_init(root)
    code, out, err = run_t4(root, timeout=300)
    assert code == 0, out + err
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "measured")
    return root


def test_the_default_run_measures_validates_and_draws(measured):
    meta = orjson.loads((measured / GENERATED / "META_REGISTRY.json").read_bytes())
    assert {m["name"] for m in meta["modules"]} == {"alpha", "beta"}
    assert (measured / GENERATED / "dashboard/index.html").is_file()
    assert (measured / GENERATED / "badges/alpha/coverage.svg").is_file()
    assert orjson.loads((measured / GENERATED / "VALIDATION_REPORT.json").read_bytes())["ok"]


def test_list_names_every_task(measured):
    code, out, _ = run_t4(measured, "list")
    assert code == 0
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {"registry", "docmap", "summaries", "check_manifests", "coverage", "bench", "meta_registry",
            "trends", "coverage_gate", "bench_gate", "docs_check", "ledger_check", "validate",
            "smoke", "tests_fast", "scaffold_docs", "scaffold_tests", "new_module", "init",
            "dashboard", "badges", "readme_badges", "tag_prod", "merge", "ci_init"} <= listed


@pytest.mark.parametrize("args, says", [
    (["check_manifests"], "2 manifests OK"),
    (["coverage_gate"], "coverage gate: 2 of 2 modules pass"),
    (["bench_gate"], "bench gate: 1 of 1 modules pass"),
    (["docs_check"], "docs: pass"),
    (["ledger_check"], "ledger: pass"),
    (["smoke"], "smoke:alpha ok"),
    (["tests_fast"], "tests_fast:beta ok"),
])
def test_each_check_passes_on_a_healthy_repository(measured, args, says):
    code, out, err = run_t4(measured, *args)
    assert code == 0, out + err
    assert says in out


def test_the_dry_runs_write_nothing(measured):
    before = git(measured, "status", "--porcelain")
    for args, says in ((["scaffold_docs"], "dry run"), (["scaffold_tests"], "dry run"),
                       (["readme_badges"], "run with --apply"), (["ci_init"], "dry run")):
        code, out, err = run_t4(measured, *args)
        assert code == 0 and says in out, out + err
    assert git(measured, "status", "--porcelain") == before


def test_scaffold_docs_apply_writes_only_missing_docs(measured, tmp_path):
    import shutil
    repo = tmp_path / "copy"
    shutil.copytree(measured, repo, symlinks=True)
    readme = (repo / "alpha/README.md").read_bytes()
    code, out, err = run_t4(repo, "scaffold_docs", "--apply", "--module", "alpha")
    assert code == 0, out + err
    assert (repo / "alpha/README.md").read_bytes() == readme  # a human's file is never overwritten
    assert any(p.is_file() for p in (repo / "alpha").glob("*.md") if p.name != "README.md")


def test_new_module_then_the_registry_counts_it(measured, tmp_path):
    import shutil
    repo = tmp_path / "copy"
    shutil.copytree(measured, repo, symlinks=True)
    code, out, err = run_t4(repo, "new_module", "--name", "gamma")
    assert code == 0, out + err
    assert (repo / "gamma/module.manifest.json").is_file()
    assert run_t4(repo, "registry")[0] == 0
    names = [m["name"] for m in orjson.loads((repo / GENERATED / "MODULE_REGISTRY.json").read_bytes())["modules"]]
    assert names == ["alpha", "beta", "gamma"]


def test_tag_prod_tags_a_validated_clean_tree_and_refuses_a_dirty_one(measured, tmp_path):
    import shutil
    repo = tmp_path / "copy"
    shutil.copytree(measured, repo, symlinks=True)
    (repo / "beta/__init__.py").write_text(CODE + "\n# edited\n", encoding="utf-8")
    code, out, err = run_t4(repo, "tag_prod")
    assert code != 0 and "refused" in out + err
    git(repo, "checkout", "--", "beta/__init__.py")
    code, out, err = run_t4(repo, "tag_prod", "--name", "v1-prod")
    assert code == 0, out + err
    assert git(repo, "tag", "--list").split() == ["v1-prod"]


def test_a_task_with_a_bad_module_name_says_so(measured):
    code, out, err = run_t4(measured, "scaffold_docs", "--module", "nope")
    assert code != 0 and "no such module" in out + err
