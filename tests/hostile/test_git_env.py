"""git refs, git's refusals and the standard library: the environment cannot be turned against T4."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.hostile.corpus import good_repo
from tests.support import git_init, make_repo, manifest, run_t4


@pytest.mark.parametrize("ref", ["--output=OUT", "-h", "nope", "HEAD~99"])
def test_a_bad_ref_is_one_line_and_reaches_git_as_no_option(tmp_path, ref):
    root = good_repo(tmp_path / "repo")
    git_init(root)
    for argv in ([f"--changed-since={ref}", "list"], ["coverage_gate", f"--changed-since={ref}"]):
        code, out, err = run_t4(root, *argv)
        assert code == 2 if argv[0].startswith("--") else code != 0, out + err
        assert "Traceback" not in out + err and "not a commit" in out + err
    assert not (root / "OUT").exists() and not (tmp_path / "OUT").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to hand the repository to another user")
def test_a_repository_git_refuses_is_an_error_with_the_fix(tmp_path):
    root = good_repo(tmp_path / "repo")
    git_init(root)
    (root / "junk").mkdir()
    (root / "junk" / "module.manifest.json").write_text('{"module": "junk"}')  # untracked
    shutil.chown(root, user=12345, group=12345)  # git now calls the ownership dubious
    code, out, err = run_t4(root, "registry")
    assert code == 2, out + err
    assert "git config --global --add safe.directory" in err and len(err.strip().splitlines()) == 1
    assert not (root / "docs").exists()


@pytest.mark.slow
def test_a_folder_named_like_the_stdlib_does_not_break_other_modules(tmp_path):
    root = make_repo(tmp_path / "repo", {
        "html": manifest("html"),
        "web": manifest("web"),
    }, {
        "html/__init__.py": "OWN = True\n",
        "html/tests/test_own.py": "import html\n\n\ndef test_own():\n    assert html.OWN\n",
        "web/__init__.py": "import html\n\n\ndef safe(text):\n    return html.escape(text)\n",
        "web/tests/test_web.py": "from web import safe\n\n\ndef test_safe():\n    assert safe('<') == '&lt;'\n",
    })
    git_init(root)
    code, out, err = run_t4(root, "coverage")
    assert "coverage:web ok 100.00%" in out, out + err
    assert "coverage:html" in out and "standard-library module" in (root / ".t4/results/coverage/html.json").read_text()
