"""What a run begins early in forked children, and when: the one place that decides it."""
# doit runs one task at a time per thread, and a run that validates spends most of its time in work
# that reads only inputs. That work is begun in forked children at three moments: when ``t4`` has
# computed a new plan before doit loads the tasks (manifests or files changed), when the registry
# task has written a changed registry, and when the META task sees new ledger records. Task
# creators begin nothing. Children nobody asks for are stopped when the run ends.

from __future__ import annotations

from t4tasks import products
from t4tasks.catalog.project import Project
from t4tasks.checks import validate


def expect(project: Project) -> None:
    """Say that this run validates ``project``: only then is validate's work begun ahead."""
    project.remember(("validate expected",), lambda: True)


def expected(project: Project) -> bool:
    """Whether this run validates ``project``."""
    return project.remembers(("validate expected",))


def plan_made(project: Project) -> None:
    """A new plan: manifests or files changed, so META and validate's checks will be built."""
    if expected(project):
        start_meta(project)
        start_checks(project)


def registry_written(project: Project) -> None:
    """A changed registry means a new META and, in a validating run, new checks."""
    start_meta(project)
    start_checks(project)


def ledgers_read(project: Project) -> None:
    """New records (a measurement): validate's checks that read ledgers begin again."""
    start_checks(project)


def start_meta(project: Project) -> None:
    """Begin META in a child; the ledgers are read first, once, for every child to inherit."""
    products.preload_ledgers(project)
    products.meta_of(project, products.ahead)


def start_checks(project: Project) -> None:
    """Begin validate's checks of inputs, and the summaries and trends it cannot compare by id."""
    if not expected(project):
        return
    # what validate knows the expected content of needs no building (see products)
    if not products.summaries_expected(project).known():
        products.summaries_of(project, products.ahead)
    if not products.trends_expected(project).known():
        products.trends_of(project, products.ahead)
    validate.early(project, products.ahead)
