"""T4's doit task creators. ``dodo.py`` files and the ``t4`` CLI both load these.

Each artifact has exactly one task, with repo-relative ``file_dep``/``targets`` and one
``config_changed`` on everything else that shapes its output (T4 version, settings, templates),
so doit reruns a task exactly when its inputs' content changed.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import orjson
from doit.exceptions import TaskFailed
from doit.tools import config_changed

from . import __version__, atomic, docmap, registry, templates
from .checker import ContentChecker
from .project import Project, load_cached

DEFAULT_TASKS = ["registry", "docmap", "check_manifests"]


def doit_config(project: Project) -> dict:
    """doit settings: sqlite3 state under ``.t4/`` (never the platform-dependent dbm)."""
    state = project.state_dir()
    return {
        "backend": "sqlite3",
        "dep_file": str(state.relative_to(project.root) / "doit.sqlite3"),
        "check_file_uptodate": ContentChecker,
        "default_tasks": DEFAULT_TASKS,
        "continue": True,   # one failing gate or module never hides the others' results
        "par_type": "thread",
    }


def current() -> Project:
    """The project for the working directory (doit runs creators with cwd = the root)."""
    return load_cached(os.getcwd())


def _digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _settings(project: Project, **extra: object) -> dict:
    """The single ``config_changed`` payload of a task (doit honours only one per task)."""
    return {"t4": __version__, "config": project.config.digest(), **extra}


def _report_problems(problems, header: str) -> None:
    if problems:
        print(f"{header} ({len(problems)}):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)


def task_registry():
    """Discover manifests and write docs/_generated/MODULE_REGISTRY.json."""
    project = current()
    target = f"{project.config.generated_dir}/{registry.REGISTRY_NAME}"
    data = registry.build(project)

    def write() -> None:
        _report_problems(project.problems, "t4: warning: manifests not registered or ambiguous")
        atomic.write_json(project.root / target, data)
        print(f"{target}: {data['module_count']} modules")

    return {
        "actions": [write],
        "file_dep": project.manifest_paths,
        "targets": [target],
        "uptodate": [config_changed(_settings(project, registry=_digest(data)))],
        "verbosity": 2,
        "clean": True,
    }


def task_docmap():
    """Render DOCUMENTATION_MAP.md and MODULE_INDEX.md from the registry."""
    project = current()
    out_dir = project.config.generated_dir
    registry_file = f"{out_dir}/{registry.REGISTRY_NAME}"
    local_templates, packaged = [], {}
    for name in docmap.OUTPUTS.values():
        path, is_local = templates.locate(project.root, name)
        if is_local:
            local_templates.append(f"templates/{name}")
        else:
            packaged[name] = templates.content_hash(path)

    def render() -> None:
        docmap.render(project.root, project.root / registry_file, out_dir)

    return {
        "actions": [render],
        "file_dep": [registry_file, *local_templates],
        "targets": [f"{out_dir}/{name}" for name in docmap.OUTPUTS],
        "uptodate": [config_changed(_settings(project, templates=packaged))],
        "clean": True,
    }


def task_check_manifests():
    """Fail with every manifest problem: unreadable, duplicate, unsafe path, schema violation."""
    project = current()

    def check():
        problems = project.all_problems()
        if problems:
            _report_problems(problems, "manifest problems")
            return TaskFailed(f"{len(problems)} manifest problem(s)")
        print(f"{len(project.manifest_paths)} manifests OK")
        return None

    schema_hash = templates.content_hash(Path(__file__).parent / "schema" / "module.manifest.schema.json")
    return {
        "actions": [check],
        "file_dep": project.manifest_paths,
        "uptodate": [config_changed(_settings(project, schema=schema_hash))],
        "verbosity": 2,
    }
