"""Tag a validated, clean tree for production."""
# The tag is a promise that this exact commit passed every check, so T4 refuses when the work tree
# has changes (the checks would have judged something else) or when any check fails. The checks run
# in memory: writing the report would itself dirty the tree.

from __future__ import annotations

import subprocess

from t4tasks.catalog.project import Project
from t4tasks.checks import validate

DEFAULT_TAG = "v0.01-prod"


class TagRefused(Exception):
    """The tree is not clean, a check failed, or the tag already names another commit."""


def _git(project: Project, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(project.root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise TagRefused(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def tag(project: Project, name: str = DEFAULT_TAG) -> str:
    """Create the annotated tag on HEAD; return what was done. Raises TagRefused with the reason."""
    head = _git(project, "rev-parse", "HEAD")
    existing = subprocess.run(["git", "-C", str(project.root), "rev-parse", "--verify", "-q", f"refs/tags/{name}^{{commit}}"],
                              capture_output=True, text=True).stdout.strip()
    if existing == head:
        return f"tag {name} already marks HEAD ({head[:12]}): nothing to do"
    if existing:
        raise TagRefused(f"tag {name} already exists on another commit ({existing[:12]}); "
                         "choose another name with --name")
    dirty = _git(project, "status", "--porcelain", "--untracked-files=normal")
    if dirty:
        raise TagRefused("the work tree is not clean (commit or stash first):\n" + dirty)
    results = validate.run(project)
    data = validate.report(results)
    if not data["ok"]:
        failed = ", ".join(r.name for r in results if r.status == "fail")
        raise TagRefused(f"validate fails ({failed}); run `t4 validate` for the details")
    summary = data["summary"]
    lines = [f"T4 validation: {summary['pass']} passed, {summary['fail']} failed, "
             f"{summary['skipped']} skipped of {summary['checks']} checks"]
    lines += [f"- {r.name}: {r.status}" + (f" ({r.reason})" if r.reason else "") for r in results]
    _git(project, "tag", "-a", name, "-m", "\n".join(lines))
    return f"tagged {head[:12]} as {name}"
