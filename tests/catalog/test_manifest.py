"""Reading manifests: every real-world spelling, and one precise problem per bad input."""

from __future__ import annotations

import os

import pytest

from t4tasks.catalog import manifest as mf
from t4tasks.catalog.config import Config
from t4tasks.catalog.project import Project

from tests.support import git_init, make_repo, manifest, run_t4

M = "module.manifest.json"


def load(root):
    return Project.load(root)


def problems_text(project):
    return [str(p) for p in project.all_problems()]


# ----------------------------------------------------------------------------- spellings

@pytest.mark.parametrize("data, lane", [
    ({"module": "m", "matrix": {"lane": "L2"}}, "L2"),
    ({"module": {"name": "m", "lane": "L4"}}, "L4"),
    ({"module": "m", "tags": ["x", "lane:L3"]}, "L3"),
    ({"module": "m", "tags": ["LANE=l1"]}, "L1"),
    ({"module": {"name": "m", "lane": "L4"}, "matrix": {"lane": "L0"}}, "L0"),  # matrix wins
    ({"module": "m", "matrix": {"lane": "L5"}, "tags": ["lane:L1"]}, "L5"),
    ({"module": "m", "tags": ["lanes"]}, None),
    ({"module": "m"}, None),
])
def test_lane_spellings(data, lane):
    assert mf.lane_of(data) == lane


def test_module_as_string_or_object(no_outer_git):
    root = make_repo(no_outer_git / "r", {
        "s": {"module": "s", "description": "from a string", "ownership": {"team": "A"}},
        "o": {"module": {"name": "o", "lane": "L3", "owner": "B", "description": "from an object"}},
    })
    project = load(root)
    assert project.problems == [] and project.schema_problems() == []
    s, o = project.by_name["s"], project.by_name["o"]
    assert (s.lane, s.owner, s.description) == (None, "A", "from a string")
    assert (o.lane, o.owner, o.description) == ("L3", "B", "from an object")
    assert o.path == "o" and o.manifest_path == "o/module.manifest.json"


def test_description_whitespace_is_folded():
    assert mf.description_of({"description": "a\n  b\tc "}) == "a b c"


def test_extra_keys_are_allowed():
    assert mf.validate(M, {"module": "m", "anything": {"goes": [1]}, "matrix": {"lane": "L2", "x": 1}}) == []


# ----------------------------------------------------------------------------- unreadable manifests

def test_malformed_json_names_file_and_line(no_outer_git):
    root = make_repo(no_outer_git / "r", {"good": manifest("good"),
                                          "bad": '{\n  "module": "bad",\n  "x": ,\n}\n'})
    project = load(root)
    assert [m.name for m in project.modules] == ["good"]
    [problem] = project.problems
    assert problem.path == "bad/module.manifest.json"
    assert problem.line == 3
    assert str(problem).startswith("bad/module.manifest.json:3: invalid JSON")


def test_non_utf8_names_file_and_byte(no_outer_git):
    root = make_repo(no_outer_git / "r", {"good": manifest("good"),
                                          "latin": b'{\n"module": "latin",\n"description": "caf\xe9"}\n'})
    project = load(root)
    [problem] = project.problems
    assert problem.path == "latin/module.manifest.json" and problem.line == 3
    assert "not valid UTF-8" in problem.message and "0xe9" in problem.message
    assert [m.name for m in project.modules] == ["good"]


def test_top_level_array(no_outer_git):
    root = make_repo(no_outer_git / "r", {"arr": b'[{"module": "arr"}]'})
    [problem] = load(root).problems
    assert str(problem) == "arr/module.manifest.json: expected a JSON object at the top level, found list"


@pytest.mark.parametrize("data", [{"description": "no name"}, {"module": ""}, {"module": {"lane": "L1"}},
                                  {"module": 7}])
def test_missing_name(no_outer_git, data):
    root = make_repo(no_outer_git / "r", {"anon": data, "good": manifest("good")})
    project = load(root)
    assert [str(p) for p in project.problems] == [
        "anon/module.manifest.json: /module: missing module name (a string, or an object with 'name')"]
    assert [m.name for m in project.modules] == ["good"]


# ----------------------------------------------------------------------------- unsafe paths

@pytest.mark.parametrize("value", ["../../..", "../../../..", "../../../outside/tests", "tests/../../../.."])
def test_relative_path_escaping_root(no_outer_git, value):
    root = make_repo(no_outer_git / "r", {"pkg/m": manifest("m", layout={"paths": {"tests": value}}),
                                          "good": manifest("good")})
    project = load(root)
    assert [str(p) for p in project.problems] == [
        f"pkg/m/module.manifest.json: /layout/paths/tests: {value!r} leaves the repository root"]
    assert [m.name for m in project.modules] == ["good"]


def test_relative_path_inside_root_is_fine(no_outer_git):
    root = make_repo(no_outer_git / "r", {"pkg/m": manifest("m", layout={"paths": {"tests": "../../tests/m"}})},
                     files={"tests/m/test_x.py": ""})
    project = load(root)
    assert project.problems == []
    assert project.by_name["m"].test_paths == ("tests/m",)


@pytest.mark.parametrize("value", ["/etc", "C:\\Windows", "\\\\server\\share"])
def test_absolute_path(no_outer_git, value):
    root = make_repo(no_outer_git / "r", {"m": manifest("m", layout={"paths": {"code": value}})})
    project = load(root)
    assert [str(p) for p in project.problems] == [
        f"m/module.manifest.json: /layout/paths/code: {value!r} leaves the repository root"]
    assert project.modules == []
    # and the schema reports it too
    assert project.schema_problems() == []  # unusable: not registered, so not schema-checked
    assert [p.message.split(":")[0] for p in mf.validate(M, manifest("m", layout={"paths": {"code": value}}))] == [
        "/layout/paths/code"]


def _outside(tmp_path):
    outside = tmp_path / "outside"
    (outside / "tests").mkdir(parents=True, exist_ok=True)
    (outside / "tests" / "test_evil.py").write_text("")
    (outside / "secret.py").write_text("")
    return outside


def test_symlink_file_escaping_root_walk_mode(no_outer_git):
    outside = _outside(no_outer_git)
    root = make_repo(no_outer_git / "r", {"m": manifest("m", layout={"paths": {"code": "code.py"}})})
    os.symlink(outside / "secret.py", root / "m" / "code.py")
    assert [str(p) for p in load(root).problems] == [
        "m/module.manifest.json: /layout/paths/code: 'code.py' leaves the repository root"]


def test_symlink_dir_escaping_root_git_mode(no_outer_git):
    outside = _outside(no_outer_git)
    root = make_repo(no_outer_git / "r", {"m": manifest("m", layout={"paths": {"tests": "tests"}}),
                                          "good": manifest("good")})
    os.symlink(outside / "tests", root / "m" / "tests")
    git_init(root)
    project = load(root)
    assert [str(p) for p in project.problems] == [
        "m/module.manifest.json: /layout/paths/tests: 'tests' leaves the repository root"]
    assert [m.name for m in project.modules] == ["good"]


def test_symlink_dir_escaping_root_walk_mode(no_outer_git):
    outside = _outside(no_outer_git)
    root = make_repo(no_outer_git / "r", {"m": manifest("m", layout={"paths": {"tests": "tests", "code": "src"}})})
    os.symlink(outside / "tests", root / "m" / "tests")
    os.symlink(outside, root / "m" / "src")
    assert [str(p) for p in load(root).problems] == [
        "m/module.manifest.json: /layout/paths/code: 'src' leaves the repository root",
        "m/module.manifest.json: /layout/paths/tests: 'tests' leaves the repository root"]


def test_symlink_inside_root_is_fine(no_outer_git):
    root = make_repo(no_outer_git / "r", {"m": manifest("m", layout={"paths": {"tests": "t"}})},
                     files={"shared_tests/test_a.py": ""})
    os.symlink(root / "shared_tests" / "test_a.py", root / "m" / "t")
    project = load(root)
    assert project.problems == []
    assert project.by_name["m"].test_paths == ("m/t",)


# ----------------------------------------------------------------------------- schema

def test_schema_violation_keeps_module_registered(no_outer_git):
    root = make_repo(no_outer_git / "r", {
        "ds": manifest("design-system"),
        "lane": {"module": "lane_bad", "matrix": {"lane": "L9"}},
        "cov": {"module": "cov", "testing": {"coverage_target": 120}},
    })
    project = load(root)
    assert project.problems == []
    assert sorted(m.name for m in project.modules) == ["cov", "design-system", "lane_bad"]
    text = problems_text(project)
    assert text[0] == ("cov/module.manifest.json: /testing/coverage_target: 120 is greater than "
                       "the maximum of 100")
    assert text[1].startswith("ds/module.manifest.json: /module: 'design-system' is not valid: expected an importable")
    assert text[2].startswith("lane/module.manifest.json: /matrix/lane: 'L9' is not one of")
    assert len(text) == 3


def test_schema_violation_through_cli(tmp_path):
    root = make_repo(tmp_path / "r", {"ds": manifest("design-system"), "ok": manifest("ok")})
    code, out, err = run_t4(root, "registry", "check_manifests")
    assert code == 1
    assert "ds/module.manifest.json: /module: 'design-system' is not valid" in err
    assert "ok/module.manifest.json" not in err


# ----------------------------------------------------------------------------- duplicates

def test_duplicate_names(no_outer_git):
    root = make_repo(no_outer_git / "r", {"a/core": manifest("core"), "b/core": manifest("core"),
                                          "c": manifest("c")})
    project = load(root)
    assert [str(p) for p in project.problems] == [
        "b/core/module.manifest.json: /module: duplicate module name 'core' (also in a/core/module.manifest.json)"]
    assert {m.manifest_path for m in project.modules} == {"a/core/module.manifest.json", "c/module.manifest.json"}
    assert [m.manifest_path for m in project.duplicates] == ["b/core/module.manifest.json"]


def test_case_only_different_names(no_outer_git):
    root = make_repo(no_outer_git / "r", {"x": manifest("Memory"), "y": manifest("memory")})
    project = load(root)
    assert [str(p) for p in project.problems] == [
        "y/module.manifest.json: /module: module name 'memory' differs only in case from 'Memory' "
        "in x/module.manifest.json"]
    assert [m.name for m in project.modules] == ["Memory"]


def test_one_bad_manifest_never_hides_others(no_outer_git):
    root = make_repo(no_outer_git / "r", {
        "a": manifest("a"), "b": b"{", "c": b"\xff\xfe", "d": manifest("a"), "e": manifest("e"),
        "f": manifest("f", layout={"paths": {"docs": "/abs"}}),
    })
    project = load(root)
    assert [m.name for m in project.modules] == ["a", "e"]
    assert [p.path for p in project.problems] == [f"{x}/module.manifest.json" for x in "bcdf"]


def test_to_module_uses_config_patterns(no_outer_git):
    root = make_repo(no_outer_git / "r", {"pkg": manifest("pkg")}, files={"qa/pkg/test_a.py": ""})
    project = load(root)
    resolver = mf.PathResolver(root, project.listing)
    data = project.by_name["pkg"].manifest
    module, problems = mf.to_module("pkg/module.manifest.json", data, Config(test_patterns=("qa/{name}",)), resolver)
    assert problems == [] and module.test_paths == ("qa/pkg",)
    module, _ = mf.to_module("pkg/module.manifest.json", data, Config(), resolver)
    assert module.test_paths == ()
