"""Every CLI error, and SIGTERM, is one line without a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.hostile.corpus import good_repo
from tests.support import _env, git_init


@pytest.mark.parametrize("argv, said", [
    (["info", "nope"], "no task named 'nope'"),
    (["ci_init", "--shards", "0"], "shards: expected a whole number"),
    (["new_module", "--name", "good"], "already exists"),
    (["new_module", "--name", "ñame"], "not a valid Python identifier"),
])
def test_a_cli_error_is_one_line(tmp_path, argv, said):
    root = good_repo(tmp_path / "repo")
    git_init(root)
    from tests.support import run_t4

    code, out, err = run_t4(root, *argv)
    assert code != 0 and said in out + err and "Traceback" not in out + err
    assert not (root / "ñame").exists()


def test_sigterm_is_one_line_and_keeps_what_finished(tmp_path):
    root = good_repo(tmp_path / "repo", files={"good/tests/test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(60)\n"})
    git_init(root)
    process = subprocess.Popen([sys.executable, "-m", "t4tasks.cli", "--root", str(root), "coverage"], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(root))
    deadline = time.monotonic() + 30
    while not list((root / ".t4").glob("**/*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # the measurement is under way
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, out + err
    assert "Traceback" not in out + err and "t4: terminated" in err
