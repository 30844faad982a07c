"""MODULE_REGISTRY.json: fields, order, tests and docs found for every layout, and the lukhas data."""

from __future__ import annotations

import orjson
import pytest

from t4tasks.catalog import registry
from t4tasks.catalog.project import Project

from tests.support import GENERATED, make_repo, manifest, read_registry, run_t4

FIELDS = {"name", "path", "manifest", "lane", "owner", "description", "code", "tests", "benchmarks",
          "docs", "digest"}


def build(root):
    return registry.build(Project.load(root))


def test_registry_content(no_outer_git):
    root = make_repo(no_outer_git / "r", {
        "zeta": manifest("zeta", description="Last one.", ownership={"team": "Z-team", "codeowners": ["@z"]}),
        "alpha": {"module": {"name": "alpha", "lane": "L3", "owner": "A-team"}, "description": "First."},
        "pkg/mid": {"module": "mid", "tags": ["lane:L0"], "ownership": {"codeowners": ["@mid-owner"]}},
    }, files={"alpha/README.md": "# alpha\n", "alpha/docs/guide.md": "g", "alpha/docs/img.png": "",
              "alpha/notes.txt": "", "zeta/claude.me": "z"})
    data = build(root)
    assert data["schema_version"] == "t4.registry/1"
    assert data["module_count"] == 3
    assert [m["name"] for m in data["modules"]] == ["alpha", "mid", "zeta"]
    for m in data["modules"]:
        assert FIELDS <= set(m), FIELDS - set(m)
    alpha, mid, zeta = data["modules"]
    assert alpha == {**alpha, "path": "alpha", "manifest": "alpha/module.manifest.json", "lane": "L3",
                     "owner": "A-team", "description": "First.", "code": "alpha",
                     "docs": ["alpha/README.md", "alpha/docs/guide.md"], "tests": [], "benchmarks": []}
    assert (mid["path"], mid["lane"], mid["owner"], mid["description"]) == ("pkg/mid", "L0", "@mid-owner", "")
    assert (zeta["lane"], zeta["owner"], zeta["docs"]) == ("L1", "Z-team", ["zeta/claude.me"])
    assert len(alpha["digest"]) == 64 and alpha["digest"] != zeta["digest"]


def test_digest_ignores_key_order_and_formatting(no_outer_git):
    a = make_repo(no_outer_git / "a", {"m": b'{"module": "m", "description": "d"}'})
    b = make_repo(no_outer_git / "b", {"m": b'{\n    "description": "d",\n    "module": "m"\n}\n'})
    c = make_repo(no_outer_git / "c", {"m": b'{"module": "m", "description": "e"}'})
    da, db, dc = (build(r)["modules"][0]["digest"] for r in (a, b, c))
    assert da == db != dc


@pytest.mark.parametrize("files, expected", [
    ({"core/tests/test_a.py": ""}, ["core/tests"]),                         # {path}/tests
    ({"tests/core/test_a.py": ""}, ["tests/core"]),                         # tests/{name}
    ({"tests/test_core.py": ""}, ["tests/test_core.py"]),                   # tests/test_{name}.py
    ({"core/tests/test_a.py": "", "tests/core/test_b.py": ""}, ["core/tests", "tests/core"]),
    ({"tests/other/test_a.py": ""}, []),
])
def test_tests_found_for_both_layouts(no_outer_git, files, expected):
    root = make_repo(no_outer_git / "r", {"core": manifest("core")}, files=files)
    assert build(root)["modules"][0]["tests"] == expected


def test_tests_found_by_dotted_name(no_outer_git):
    root = make_repo(no_outer_git / "r", {"src/lukhas/memory": manifest("lukhas.memory")},
                     files={"tests/lukhas/memory/test_a.py": ""})
    assert build(root)["modules"][0]["tests"] == ["tests/lukhas/memory"]


def test_layout_paths_tests_override_wins(no_outer_git):
    root = make_repo(no_outer_git / "r", {"core": manifest("core", layout={"paths": {"tests": "../qa/core_suite"}})},
                     files={"core/tests/test_a.py": "", "qa/core_suite/test_b.py": ""})
    assert build(root)["modules"][0]["tests"] == ["qa/core_suite"]


def test_layout_paths_tests_override_missing_folder(no_outer_git):
    # the override wins even when it names nothing: the default folder is not used behind its back
    root = make_repo(no_outer_git / "r", {"core": manifest("core", layout={"paths": {"tests": "spec"}})},
                     files={"core/tests/test_a.py": ""})
    assert build(root)["modules"][0]["tests"] == []


def test_nested_module_docs_belong_to_the_inner_module(no_outer_git):
    root = make_repo(no_outer_git / "r", {"outer": manifest("outer"), "outer/docs/inner": manifest("inner")},
                     files={"outer/docs/a.md": "", "outer/docs/inner/README.md": ""})
    mods = {m["name"]: m for m in build(root)["modules"]}
    assert mods["outer"]["docs"] == ["outer/docs/a.md"]
    assert mods["inner"]["docs"] == ["outer/docs/inner/README.md"]


def test_duplicates_stay_visible(no_outer_git):
    root = make_repo(no_outer_git / "r", {"a": manifest("core"), "b": manifest("core"), "c": manifest("Core")})
    data = build(root)
    assert data["module_count"] == 3
    assert [(m["manifest"], m.get("duplicate_of")) for m in data["modules"]] == [
        ("c/module.manifest.json", "a/module.manifest.json"),
        ("a/module.manifest.json", None),
        ("b/module.manifest.json", "a/module.manifest.json"),
    ]


def test_registry_file_is_canonical_json(tmp_path):
    root = make_repo(tmp_path / "r", {"b": manifest("b"), "a": manifest("a")})
    code, out, err = run_t4(root, "registry")
    assert code == 0, err
    raw = (root / GENERATED / "MODULE_REGISTRY.json").read_bytes()
    data = orjson.loads(raw)
    assert raw == orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    assert data == build(root)
    assert "docs/_generated/MODULE_REGISTRY.json: 2 modules" in out


def test_generated_dir_from_config(tmp_path):
    root = make_repo(tmp_path / "r", {"a": manifest("a")}, pyproject='[tool.t4]\ngenerated_dir = "reports/gen"\n')
    code, _, err = run_t4(root, "registry", "docmap")
    assert code == 0, err
    assert {p.name for p in (root / "reports/gen").iterdir()} == {
        "MODULE_REGISTRY.json", "MODULE_SUMMARIES.json", "MODULE_INDEX.md", "DOCUMENTATION_MAP.md"}
    assert not (root / GENERATED).exists()


# ----------------------------------------------------------------------------- lukhas fixture

def test_lukhas_registry_and_docmap(lukhas):
    code, out, err = run_t4(lukhas, "registry", "docmap")
    assert code == 0, err
    data = read_registry(lukhas)
    assert data["module_count"] == 140 == len(data["modules"])
    assert {m["lane"] for m in data["modules"]} == {"L2"}
    dup = [m for m in data["modules"] if "duplicate_of" in m]
    assert [(m["manifest"], m["duplicate_of"]) for m in dup] == [
        ("lukhas/core/module.manifest.json", "core/module.manifest.json")]
    assert "lukhas/core/module.manifest.json: /module: duplicate module name 'core'" in err
    index = (lukhas / GENERATED / "MODULE_INDEX.md").read_text()
    assert "140 modules." in index
    assert index.count("\n| [") == 140


DASHED = ["design_system", "final_sweep", "jules_branch", "lukhas_ai_intro", "mcp-lukhas-sse",
          "mcp-server", "mcp-servers", "security_reports"]


def test_lukhas_check_manifests(lukhas):
    code, out, err = run_t4(lukhas, "check_manifests")
    assert code == 1
    listed = [line.strip() for line in err.splitlines() if line.startswith("  ")]
    named = sorted({line.split(": ", 1)[0] for line in listed})
    assert named == sorted([f"{d}/module.manifest.json" for d in DASHED] + ["lukhas/core/module.manifest.json"])
    assert len(listed) == 9
    for d in DASHED:
        [line] = [x for x in listed if x.startswith(f"{d}/")]
        assert "is not valid: expected an importable dotted Python name" in line
        assert "-" in line.split("'")[1]   # the offending name has a dash
    assert any(x == "lukhas/core/module.manifest.json: /module: duplicate module name 'core' "
                    "(also in core/module.manifest.json)" for x in listed)
    assert "manifest problems (9):" in err
