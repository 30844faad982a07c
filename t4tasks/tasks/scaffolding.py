"""Tasks that write files for the user: scaffolded docs and tests, new modules, init."""

from __future__ import annotations

import subprocess

from doit.exceptions import TaskFailed

from t4tasks.tasks.common import (
    MODULE_PARAM,
    _run_modules,
    current,
)


def _scaffold_task(kind: str, plan, ledger_kind: str):
    from t4tasks.scaffolding import scaffold
    project = current()

    def run(module: str, apply: bool, update: bool):
        if module and module not in project.by_name:
            return TaskFailed(f"--module {module}: no such module (see `t4 list` or MODULE_INDEX.md)")
        modules = [project.by_name[module]] if module else list(_run_modules(project))
        failures, everything = [], []
        for m in modules:
            try:
                planned = plan(project, m, update=update)
            except ValueError as exc:  # UnsafePath or a template that cannot render
                failures.append(f"{m.name}: {exc}")
                continue
            everything += planned
            if apply:
                scaffold.apply(project, m, planned, ledger_kind)
        print(scaffold.format_plan(everything))
        if not apply:
            print(f"dry run: nothing written; run `t4 {kind} --apply` to write these files")
        for failure in failures:
            print(f"error: {failure}")
        return TaskFailed(f"{len(failures)} module(s) could not be scaffolded") if failures else None

    return {
        "actions": [run],
        "params": [MODULE_PARAM,
                   {"name": "apply", "long": "apply", "type": bool, "default": False,
                    "help": "write the files (default: dry run, print what would be written)"},
                   {"name": "update", "long": "update", "type": bool, "default": False,
                    "help": "also refresh untouched scaffolds whose template changed (diff shown)"}],
        "uptodate": [False],
        "verbosity": 2,
    }


def task_scaffold_docs():
    """Write missing module docs from templates (dry run unless --apply; never overwrites)."""
    from t4tasks.scaffolding import scaffold
    return _scaffold_task("scaffold_docs", scaffold.plan_docs, "scaffold")


def task_scaffold_tests():
    """Write missing module tests from templates (dry run unless --apply; never overwrites)."""
    from t4tasks.scaffolding import scaffold
    return _scaffold_task("scaffold_tests", scaffold.plan_tests, "test_scaffold")


def task_new_module():
    """Create a module: folder, manifest, docs and tests (t4 new_module --name payments)."""
    from t4tasks.catalog import discovery
    from t4tasks.scaffolding import onboard
    project = current()

    def run(name: str, lane: str):
        if not name:
            return TaskFailed("new_module needs --name NAME")
        try:
            written = onboard.new_module(project.root, name, lane=lane)
        except ValueError as exc:
            return TaskFailed(f"new_module {name}: {exc}")
        print("\n".join(f"created {path}" for path in written))
        if project.listing.is_git:
            # discovery counts the untracked manifest already; intent-to-add shows it in
            # `git status` (and `git diff`) without staging its content
            manifests = [p for p in written if p.endswith(discovery.MANIFEST_NAME)]
            subprocess.run(["git", "-C", str(project.root), "add", "--intent-to-add", *manifests], check=False)
            print(f"git add --intent-to-add {' '.join(manifests)}: the registry picks it up on the next run")
        return None

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [{"name": "name", "short": "p", "long": "name", "type": str, "default": "",
                        "help": "module name (an importable identifier)"},
                       {"name": "lane", "long": "lane", "type": str, "default": "L2", "help": "lane L0-L5"}]}


def task_init():
    """Write a manifest per module the layout suggests (dry run unless --apply; a rerun changes nothing)."""
    from t4tasks.scaffolding import layouts, onboard, scaffold
    project = current()

    def run(apply: bool, lane: str, depth: int):
        try:
            planned, found, skipped = onboard.plan(project.root, lane=lane, depth=depth, apply=apply)
        except ValueError as exc:
            return TaskFailed(f"init: {exc}")
        print(onboard.format_proposals(found, skipped), end="")
        print(scaffold.format_plan(planned), end="")
        if not apply:
            print("dry run: nothing written; run `t4 init --apply` to write these manifests")
        elif any(p.action == "create" for p in planned):
            print("the new manifests count from the next run on (no `git add` needed); commit them with the code")
        return None

    return {"actions": [run], "uptodate": [False], "verbosity": 2,
            "params": [{"name": "apply", "long": "apply", "type": bool, "default": False,
                        "help": "write the manifests"},
                       {"name": "lane", "long": "lane", "type": str, "default": "L2", "help": "lane for new manifests"},
                       {"name": "depth", "long": "depth", "type": int, "default": layouts.DEFAULT_DEPTH,
                        "help": "how many package levels a module may have: 1 = top-level packages and "
                                "distributions only; deeper, a subpackage with tests of its own is a module"}]}
