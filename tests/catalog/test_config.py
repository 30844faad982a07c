"""``[tool.t4]``: defaults, unknown keys and wrong types named precisely, broken TOML tolerated."""

from __future__ import annotations

import pytest

from t4tasks.catalog import config
from t4tasks.catalog.config import Config, ConfigError

from tests.support import make_repo, manifest, run_t4


def test_defaults_without_pyproject(tmp_path):
    cfg = config.load(tmp_path)
    assert cfg == Config()
    assert cfg.lanes == {"L0": 70.0, "L1": 75.0, "L2": 80.0, "L3": 85.0, "L4": 90.0, "L5": 90.0}
    assert cfg.manifest_globs == ("**/module.manifest.json",)
    assert "{path}/tests" in cfg.test_patterns
    assert cfg.generated_dir == "docs/_generated"
    assert cfg.state_dir == ".t4"


def test_defaults_without_tool_t4_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.other]\na = 1\n')
    assert config.load(tmp_path) == Config()


def test_settings_are_read_and_coerced(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.t4]\ntimeout = 30\nexclude = ["legacy/**"]\nlanes = {L2 = 55}\n'
        'generated_dir = "out/gen"\n')
    cfg = config.load(tmp_path)
    assert cfg.timeout == 30.0 and isinstance(cfg.timeout, float)
    assert cfg.exclude == ("legacy/**",)
    assert cfg.lanes["L2"] == 55.0 and cfg.lanes["L0"] == 70.0  # merged over the defaults
    assert cfg.generated_dir == "out/gen"


def test_digest_is_stable_and_tracks_settings():
    assert Config().digest() == Config().digest()
    assert Config().digest() != Config(timeout=5.0).digest()


@pytest.mark.parametrize("toml, key", [
    ('[tool.t4]\ntimout = 30\n', "tool.t4.timout"),
    ('[tool.t4]\ntimeout = "slow"\n', "tool.t4.timeout"),
    ('[tool.t4]\ntimeout = true\n', "tool.t4.timeout"),
    ('[tool.t4]\nexclude = "build"\n', "tool.t4.exclude"),
    ('[tool.t4]\nmanifest_globs = [1, 2]\n', "tool.t4.manifest_globs"),
    ('[tool.t4]\nlanes = {L2 = 150}\n', "tool.t4.lanes.L2"),
    ('[tool.t4]\nlanes = 80\n', "tool.t4.lanes"),
    ('[tool.t4]\ngenerated_dir = 3\n', "tool.t4.generated_dir"),
])
def test_unknown_key_or_wrong_type_names_the_key(tmp_path, toml, key):
    (tmp_path / "pyproject.toml").write_text(toml)
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    message = str(info.value)
    assert message.startswith("pyproject.toml: ")
    assert f"{key}:" in message


def test_unknown_key_lists_the_known_ones(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.t4]\ntimout = 30\n')
    with pytest.raises(ConfigError, match=r"unknown setting .*timeout"):
        config.load(tmp_path)


def test_cli_config_error_exits_2_with_message_on_stderr(tmp_path):
    make_repo(tmp_path, {"m1": manifest("m1")}, pyproject='[tool.t4]\ntimout = 30\n')
    code, out, err = run_t4(tmp_path, "registry")
    assert code == 2
    assert "tool.t4.timout" in err and "unknown setting" in err
    assert "Traceback" not in err
    assert not (tmp_path / "docs/_generated/MODULE_REGISTRY.json").exists()


def test_cli_wrong_type_exits_2(tmp_path):
    make_repo(tmp_path, {"m1": manifest("m1")}, pyproject='[tool.t4]\nlanes = {L3 = "high"}\n')
    code, _, err = run_t4(tmp_path, "list")
    assert code == 2
    assert "tool.t4.lanes.L3" in err


def test_invalid_toml_warns_and_uses_defaults(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.t4\ntimeout = 3\n')
    assert config.load(tmp_path) == Config()
    err = capsys.readouterr().err
    assert "warning" in err and "pyproject.toml" in err and "not valid TOML" in err


def test_invalid_toml_through_cli_still_builds(tmp_path):
    make_repo(tmp_path, {"m1": manifest("m1")}, pyproject="[tool.t4\n")
    code, _, err = run_t4(tmp_path, "registry")
    assert code == 0, err
    assert "not valid TOML" in err
    assert (tmp_path / "docs/_generated/MODULE_REGISTRY.json").is_file()


@pytest.mark.parametrize("key", ["generated_dir", "ledger_dir", "trends_dir", "state_dir"])
@pytest.mark.parametrize("value", ["../out", "docs/../../out", "/abs/out"])
def test_output_dirs_must_stay_inside(tmp_path, key, value):
    (tmp_path / "pyproject.toml").write_text(f'[tool.t4]\n{key} = "{value}"\n')
    with pytest.raises(ConfigError, match=rf"tool\.t4\.{key}: .*inside the repository"):
        config.load(tmp_path)


def test_is_inside():
    assert config.is_inside("docs/_generated")
    assert not config.is_inside("../x")
    assert not config.is_inside("a/../../x")
    assert not config.is_inside("/x")
    assert not config.is_inside("C:/x")
    assert not config.is_inside("..\\x")


def test_unknown_placeholder_in_test_patterns_is_a_config_error(tmp_path):
    make_repo(tmp_path, {"m1": manifest("m1")}, pyproject='[tool.t4]\ntest_patterns = ["tests/{module}"]\n')
    code, _, err = run_t4(tmp_path, "list")
    assert code == 2
    assert "tool.t4.test_patterns" in err
    assert "Traceback" not in err


def test_tool_not_a_table_is_a_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("tool = 3\n")
    with pytest.raises(ConfigError):
        config.load(tmp_path)


def test_state_dir_root_never_ignores_the_whole_repository(tmp_path):
    make_repo(tmp_path, {"m1": manifest("m1")}, pyproject='[tool.t4]\nstate_dir = "."\n')
    code, _, err = run_t4(tmp_path, "list")
    root_ignore = tmp_path / ".gitignore"
    assert code == 2 or not (root_ignore.exists() and root_ignore.read_text().strip() == "*")
