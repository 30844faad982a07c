"""``t4tasks/measure/children.py``: once T4 is stopping, no worker thread starts a new measurement."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.measure.test_smoke import pids_running

# kill_all is process-wide and final, so each case runs in a Python of its own
AFTER_KILL_ALL = """
import sys
from t4tasks.measure import children
children.kill_all()
try:
    children.run([sys.executable, "-c", "import time; time.sleep(60)", sys.argv[1]], cwd=".",
                 env={}, timeout=60, stdout=None, stderr=None)
except children.Cancelled as exc:
    print("cancelled:", exc)
else:
    print("ran")
"""

SERVER_AFTER_KILL_ALL = """
import sys
from pathlib import Path
from t4tasks.measure import children, smoke
children.kill_all()
try:
    smoke._server(Path("."), [])
except children.Cancelled:
    print("cancelled")
"""


def test_a_run_asked_for_after_kill_all_never_starts(tmp_path):
    marker = f"late{os.getpid()}x{time.monotonic_ns()}"
    out = subprocess.run([sys.executable, "-c", AFTER_KILL_ALL, marker], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.startswith("cancelled: T4 is stopping"), out.stdout + out.stderr
    assert pids_running(marker) == []


def test_no_smoke_server_starts_after_kill_all(tmp_path):
    env = dict(os.environ)
    env.pop("T4_SMOKE_NO_SERVER", None)
    out = subprocess.run([sys.executable, "-c", SERVER_AFTER_KILL_ALL], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.stdout.strip() == "cancelled", out.stdout + out.stderr
