"""T4's doit task declarations. ``dodo.py`` files and the ``t4`` CLI both load these."""
# Each artifact has exactly one task, with repo-relative ``file_dep``/``targets`` and one
# ``config_changed`` on everything else that shapes its output, so doit reruns a task exactly when
# its inputs' content changed. The declarations live beside the folder whose work they start.

from __future__ import annotations

from t4tasks.catalog.project import Project
from t4tasks.console.reporter import ProgressReporter
from t4tasks.ledgers.merge import task_merge  # noqa: F401  (t4 merge FRAGMENTS...)
from t4tasks.scaffolding.ci_init import task_ci_init  # noqa: F401  (t4 ci_init [--apply])
from t4tasks.speed import digests
from t4tasks.speed.checker import ContentChecker
from t4tasks.tasks.catalog import (  # noqa: F401
    task_check_manifests,
    task_docmap,
    task_registry,
    task_summaries,
)
from t4tasks.tasks.checks import (  # noqa: F401
    task_bench_gate,
    task_coverage_gate,
    task_docs_check,
    task_ledger_check,
    task_patch_coverage,
    task_pr_report,
    task_tag_prod,
    task_validate,
)
from t4tasks.tasks.common import CHANGED_SINCE_ENV, current, plan  # noqa: F401  (used by the CLI)
from t4tasks.tasks.common import uncaptured
from t4tasks.tasks.measure import task_bench, task_coverage, task_smoke, task_tests_fast  # noqa: F401
from t4tasks.tasks.outputs import (  # noqa: F401
    task_badges,
    task_dashboard,
    task_meta_registry,
    task_metrics,
    task_readme_badges,
    task_trends,
)
from t4tasks.tasks.scaffolding import (  # noqa: F401
    task_init,
    task_new_module,
    task_scaffold_docs,
    task_scaffold_tests,
)

# every creator, as the CLI and dodo.py load it: no task's output is captured (see uncaptured)
for _name in [name for name in dir() if name.startswith("task_")]:
    globals()[_name] = uncaptured(globals()[_name])

MEASURE_TASKS = ["coverage", "bench"]


SHOW_TASKS = ["dashboard", "badges", "metrics"]


DEFAULT_TASKS = [*MEASURE_TASKS, "validate", *SHOW_TASKS]


# which task creators a task needs loaded besides its own: the producers of the files it reads
CREATOR_DEPS = {
    "docmap": ["registry", "summaries"],
    "meta_registry": ["registry"],
    "validate": ["registry", "summaries", "docmap", "meta_registry", "trends"],
    "dashboard": ["meta_registry", "trends"],
    "badges": ["meta_registry"],
    "metrics": ["meta_registry"],
}


def creators_for(names: list[str]) -> set[str]:
    """``names`` and, transitively, the creators of what they depend on."""
    needed, stack = set(), list(names)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(CREATOR_DEPS.get(name, ()))
    return needed


def doit_config(project: Project) -> dict:
    """doit settings: sqlite3 state under ``.t4/`` (never the platform-dependent dbm)."""
    state = project.state_dir()
    digests.use_store(state / "digests.json")
    return {
        "backend": "sqlite3",
        "dep_file": str(state.relative_to(project.root) / "doit.sqlite3"),
        "check_file_uptodate": ContentChecker,
        "default_tasks": DEFAULT_TASKS,
        "continue": True,   # one failing gate or module never hides the others' results
        "par_type": "thread",
        "reporter": ProgressReporter,
    }
