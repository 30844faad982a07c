"""Tasks over what the repository declares: registry, summaries, docmap, manifest checks."""

from __future__ import annotations

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from t4tasks import headstart, products
from t4tasks.catalog import docmap, manifest, registry, templates
from t4tasks.speed import atomic, digests
from t4tasks.tasks.common import (
    _contents,
    _registry_settings,
    _report_problems,
    _settings,
    current,
    plan,
)


def task_registry():
    """Discover manifests and write docs/_generated/MODULE_REGISTRY.json."""
    project = current()
    target = f"{project.config.generated_dir}/{registry.REGISTRY_NAME}"

    def write() -> None:
        _report_problems(project.problems, "t4: warning: manifests not registered or ambiguous")
        data = registry.of(project)
        atomic.write_json(project.root / target, data)
        headstart.registry_written(project)
        print(f"{target}: {data['module_count']} modules")

    # no file_dep on the manifests: recording an observation rewrites them, and that must not
    # make the registry stale. The digest of the registry content (observations excluded) decides.
    return {
        "actions": [write],
        "targets": [target],
        "uptodate": [config_changed(_registry_settings(project))],
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
            packaged[name] = digests.sha256_of(path)

    summaries_file = f"{out_dir}/{docmap.SUMMARIES_NAME}"

    def render() -> None:
        for name, text in docmap.texts_of(project).items():
            atomic.write_text(project.root / out_dir / name, text)

    return {
        "actions": [render],
        "file_dep": [registry_file, summaries_file, *local_templates],
        "targets": [f"{out_dir}/{name}" for name in docmap.OUTPUTS],
        "uptodate": [config_changed(_registry_settings(project, templates=packaged))],
        "clean": True,
    }


def task_summaries():
    """One-line summary and "see also" per module (docstrings, READMEs, TF-IDF) → MODULE_SUMMARIES.json."""
    project = current()
    out = project.config.generated_dir
    declared = plan(project)

    def write() -> None:
        atomic.write_bytes(project.root / out / docmap.SUMMARIES_NAME, products.build_summaries(project))

    # not the registry file, which changes with every description: what summaries read of it
    # (names, code folders, docs) and the content of the files they read are in the settings
    sources = _contents(project, "summary sources", declared["summary_sources"])
    return {
        "actions": [write],
        "targets": [f"{out}/{docmap.SUMMARIES_NAME}"],
        "uptodate": [config_changed(_settings(project, summaries=declared["summaries_view"], sources=sources))],
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

    schema_hash = digests.sha256_of(manifest.SCHEMA_PATH)
    manifests = {m.manifest_path: registry.manifest_digest(m) for m in project.modules + project.duplicates}
    return {
        "actions": [check],
        "uptodate": [config_changed(_settings(project, schema=schema_hash, manifests=manifests,
                                              problems=[str(p) for p in project.problems]))],
        "verbosity": 2,
    }
