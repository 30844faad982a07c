"""What a run builds once and several tasks read: MODULE_SUMMARIES, META_REGISTRY, the trend CSVs."""
# Each is made once per run (per version of the ledgers it reads), here or ahead in a forked child
# (``how``), and its expected content id is remembered by its inputs so validate can compare the
# file without building it.

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeVar

from t4tasks.catalog import registry, summaries
from t4tasks.catalog.project import Project
from t4tasks.ledgers import ledger, record, records
from t4tasks.outputs import meta, trends
from t4tasks.problems import Problem, relative_to
from t4tasks.speed import atomic, digests, forked, memo

T = TypeVar("T")
# how a result made once per run is made: ``forked.Forked`` (here, when first asked for) or
# ``ahead`` (begun now in a forked child, for a later task)
How = Callable[[Callable[[], T]], "forked.Forked[T]"]


def ahead(build: Callable[[], T]) -> forked.Forked[T]:
    """Begin ``build`` in a child for a later task."""
    return forked.start(build, across_tasks=True)


def preload_ledgers(project: Project) -> None:
    """Read the ledgers once, before forking, for every child to inherit."""
    for name in (record.COVERAGE_LEDGER, record.BENCH_LEDGER):
        ledger.preload(record.ledger_path(project, name))


def build_summaries(project: Project) -> bytes:
    """MODULE_SUMMARIES.json as its inputs make it, built once per run."""
    # The summaries task writes it; validate takes the file's expected content id from it when it
    # does not know that id already (see ``expected_summaries``); ``start_checks`` begins it ahead.
    return summaries_of(project, forked.Forked).result()


class _Expected(NamedTuple):
    """Where the expected content of a generated file is remembered, and under which key."""
    # The key names the file's inputs (``unchecked``: the files named by their listed ids).

    memo: memo.Memo
    key: str
    unchecked: list[str]

    def known(self) -> bool:
        return self.memo.knows(self.key)

    def value(self, make: Callable[[], T]) -> T:
        """The remembered value, else ``make()`` (remembered from now on)."""
        found = self.memo.get(self.key, make, self.unchecked)
        self.memo.save()
        return found


def _expected(project: Project, name: str, key: Callable[[], str], *version: object) -> _Expected:
    """The memo ``expected-<name>`` and its key for this run, made once per process and ``version``."""
    return project.remember(("expected", name, *version),
                            lambda: _Expected(project.memo(f"expected-{name}"), *digests.unchecked_ids(key)))


def expected_summaries(project: Project) -> str:
    """The content id MODULE_SUMMARIES.json has when its inputs make it, remembered by those inputs."""
    # Inputs: what summaries read of the registry, and the content of the files they read. While they
    # are unchanged (a description edited), validate knows if the file is up to date without building it.
    return summaries_expected(project).value(lambda: digests.id_of(build_summaries(project)))


def summaries_expected(project: Project) -> _Expected:
    def key() -> str:
        reg = registry.of(project)
        sources = summaries.sources(reg, project.listing.file_set)
        return memo.key("summaries/1", summaries.view(reg), memo.file_parts(project.root, sources))

    return _expected(project, "summaries", key)


def summaries_of(project: Project, how: How) -> forked.Forked[bytes]:
    return project.remember(("summaries",), lambda: how(lambda: atomic.dumps_json(summaries.of(project))))


class MetaFile(NamedTuple):
    """META_REGISTRY.json as written, and its summary."""
    # Bytes, not the document: a child sends bytes far faster than a pickled document loads, and
    # the task and the check want the bytes anyway (see docs/PERFORMANCE.md).

    content: bytes
    summary: dict


def build_meta(project: Project) -> MetaFile:
    """META_REGISTRY's content, built once per version of the ledgers."""
    # The meta_registry task writes it and validate compares the file with it in the same run.
    return meta_of(project, forked.Forked).result()


def meta_of(project: Project, how: How) -> forked.Forked[MetaFile]:
    def build() -> MetaFile:
        cov_latest = _latest(project, records.COVERAGE)
        bench_latest = _latest(project, records.BENCH)
        remembered = project.memo("placeholders")
        read = meta.read_placeholder(project.root)

        def is_placeholder(relpath: str) -> bool:
            return remembered.get(lambda: memo.key("placeholder/1", memo.file_part(project.root, relpath)),
                                  lambda: read(relpath))

        data = meta.build(project.root, registry.of(project), cov_latest, bench_latest,
                          project.config.lanes, project.config.required_docs, is_placeholder)
        remembered.save()
        return MetaFile(atomic.dumps_json(data), data["summary"])

    return project.remember(("meta", ledger_versions(project)), lambda: how(build))


def build_trends(project: Project) -> tuple[dict[str, str], list[Problem]]:
    """The trend CSVs' text and the ledger problems, built once per version of the ledgers."""
    # The trends task writes them; validate takes the files' expected content ids from these when
    # it does not know those ids already (see ``expected_trends``); ``start_checks`` begins them ahead.
    return trends_of(project, forked.Forked).result()


def expected_trends(project: Project) -> tuple[dict[str, str], list[Problem]]:
    """Each trend CSV's content id as the ledgers make it, and the ledgers' problems, by ledger content."""
    # While no record is added, validate knows if the trends are up to date without reading the ledgers.
    def make() -> list:
        texts, problems = build_trends(project)
        return [{name: digests.id_of(text.encode("utf-8")) for name, text in texts.items()},
                [[p.path, p.message, p.line] for p in relative_to(problems, project.root)]]

    ids, problems = trends_expected(project).value(make)
    return ids, [Problem(*p) for p in problems]


def trends_expected(project: Project) -> _Expected:
    def key() -> str:
        folder = project.config.ledger_dir
        return memo.key("trends/1", memo.file_parts(project.root, [f"{folder}/{record.COVERAGE_LEDGER}",
                                                                   f"{folder}/{record.BENCH_LEDGER}"]))

    return _expected(project, "trends", key, ledger_versions(project))


def trends_of(project: Project, how: How) -> forked.Forked[tuple]:
    ledger_dir = project.root / project.config.ledger_dir
    return project.remember(("trends", ledger_versions(project)), lambda: how(lambda: trends.render(ledger_dir)))


def ledger_versions(project: Project) -> tuple:
    """Which version of each ledger a result is made from."""
    return tuple(ledger.version(record.ledger_path(project, name))
                 for name in (record.COVERAGE_LEDGER, record.BENCH_LEDGER))


def _latest(project: Project, kind: str) -> dict[str, dict]:
    path = record.ledger_path(project, records.ledger_file(kind))
    return ledger.latest(path, kind=kind) if path.exists() else {}
