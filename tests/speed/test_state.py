"""doit's state as T4 keeps it (``t4tasks/speed/state.py``): after a fresh clone, one run records the
new mtimes of unchanged dependencies, so the next run decides by ``stat`` alone.

doit saves state only for tasks that ran; in a clone every mtime is new, so without the refresh
every later run would hash every dependency again (or look its blob id up) forever.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import orjson

from tests.support import doit_tasks, git, git_init, make_repo, manifest, run_t4


def validate_row(root) -> dict:
    with sqlite3.connect(root / ".t4" / "doit.sqlite3") as db:
        (data,) = db.execute("select task_data from doit where task_id = 'validate'").fetchone()
    return orjson.loads(data)


def stale_deps(root) -> list[str]:
    """validate's dependencies whose recorded (mtime, size) differ from the file's now."""
    row = validate_row(root)
    stale = []
    for dep in row["deps:"]:
        mtime_ns, size, _ = row[dep]
        stat = (root / dep).stat()
        if (stat.st_mtime_ns, stat.st_size) != (mtime_ns, size):
            stale.append(dep)
    return stale


def test_one_run_in_a_fresh_clone_refreshes_the_recorded_mtimes(no_outer_git):
    origin = make_repo(no_outer_git / "origin", {n: manifest(n) for n in ("alpha", "beta")}, {
        "alpha/__init__.py": '"""Alpha."""\n', "beta/__init__.py": '"""Beta."""\n',
        "alpha/README.md": "# Alpha\n", "beta/README.md": "# Beta\n"})
    git_init(origin)
    code, out, err = run_t4(origin, "validate")
    assert code == 0, out + err
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "generated")
    assert stale_deps(origin) == []

    clone = no_outer_git / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True, capture_output=True)
    shutil.copytree(origin / ".t4", clone / ".t4")
    before = stale_deps(clone)
    assert "docs/_generated/MODULE_REGISTRY.json" in before  # the clone wrote every file anew

    code, out, err = run_t4(clone, "validate")
    assert code == 0, out + err
    executed, _ = doit_tasks(out)
    assert executed == [], out  # content decides: nothing ran ...
    assert stale_deps(clone) == []  # ... and the state now holds the clone's mtimes

    # a real change is still seen: the refresh records only content that did not change
    (clone / "beta" / "README.md").write_text("# Beta\n\nEdited.\n")
    code, out, err = run_t4(clone, "validate")
    executed, _ = doit_tasks(out)
    assert "validate" in executed, out


def test_the_doit_internals_the_committing_backend_relies_on_are_there(tmp_path):
    """CommittingSqliteDB reads SqliteDB's private _cache, _dirty and _conn, and commits a task's
    row when doit writes its last key: if a doit release moves them, this fails before users do."""
    import inspect

    from doit.dependency import Dependency, SqliteDB

    from t4tasks.speed import state

    db = SqliteDB(str(tmp_path / "s.sqlite3"), state.OrjsonCodec())
    assert isinstance(db._cache, dict) and isinstance(db._dirty, set)
    assert hasattr(db._conn, "execute") and hasattr(db._conn, "commit")
    source = inspect.getsource(Dependency.save_success)
    last_set = source.rstrip().splitlines()[-1]
    assert f"'{state._LAST_KEY}'" in last_set or f'"{state._LAST_KEY}"' in last_set, last_set
