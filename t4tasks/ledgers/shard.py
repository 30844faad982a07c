"""Splitting modules into N shards, one per CI machine, balanced by recorded durations."""
# ``t4 coverage --shard I/N`` (also ``bench``) measures only shard ``I`` of ``N``. Every machine of
# a CI matrix computes the same split on its own, from the same inputs: the module names and the
# committed ledger's latest ``duration_s`` per module. Nothing is exchanged between machines.
#
# The split is greedy, like pytest-split's ``least_duration``: longest module first onto the
# currently lightest shard (ties: lower shard index; modules of equal weight: by name). Two
# refinements make it stable, because a module that changes shard finds no doit state in that
# shard's restored ``.t4/`` cache and is measured again:
#
# * **Known before unknown.** Modules with a recorded duration are placed first, by themselves;
#   modules without one (new modules) are placed after them, by name, each weighing the median of
#   the known durations (``DEFAULT_DURATION`` when none is known). So adding a module that has
#   never been measured moves no module that has been: only not-yet-measured modules can move.
# * **Rounded durations.** A duration is rounded to the nearest quarter power of two (steps of
#   about 19 %) before anything else, so run-to-run noise that keeps a module in its step moves
#   nothing.
#
# Guarantees (each tested): deterministic and independent of input order; every module in exactly
# one shard; each shard's list sorted by name; adding modules without a recorded duration never
# moves a module with one. Not guaranteed: adding a module *with* a recorded duration, or a
# duration crossing a step, may move others (placement after it in the greedy order can cascade).

from __future__ import annotations

import heapq
import math
import os
import re
import statistics
from collections.abc import Iterable, Mapping
from pathlib import Path

from t4tasks.ledgers import ledger
from t4tasks.problems import Problem

ENV = "T4_SHARD"
DURATION = "duration_s"
DEFAULT_DURATION = 1.0
STEPS_PER_DOUBLING = 4  # rounding grid: 2 ** (k / 4)
_MIN_DURATION = 1e-3    # a zero (or negative, or missing) duration still weighs something

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A ``--shard`` value that is not ``I/N`` with 1 <= I <= N."""


def parse(spec: str) -> tuple[int, int]:
    """``"2/3"`` → ``(2, 3)``: shard 2 of 3, counted from 1. ShardError says what is wrong."""
    if not isinstance(spec, str):
        raise ShardError(f"--shard {spec!r}: expected I/N, e.g. 2/3")
    match = _SPEC.match(spec)
    if not match:
        raise ShardError(f"--shard {spec!r}: expected I/N with whole numbers, e.g. 2/3")
    index, total = int(match.group(1)), int(match.group(2))
    if total < 1:
        raise ShardError(f"--shard {spec!r}: the number of shards must be at least 1")
    if not 1 <= index <= total:
        raise ShardError(f"--shard {spec!r}: the shard index must be between 1 and {total}")
    return index, total


def current(environ: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """The shard this process runs (``T4_SHARD=I/N``, set by ``t4 --shard``), or None."""
    spec = (os.environ if environ is None else environ).get(ENV, "")
    return parse(spec) if spec.strip() else None


def split_arg(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take ``--shard I/N`` / ``--shard=I/N`` out of a ``t4`` command line (validated)."""
    spec, rest, args = None, [], iter(argv)
    for arg in args:
        if arg == "--shard":
            spec = next(args, None)
            if spec is None:
                raise ShardError("--shard needs a value I/N, e.g. 2/3")
        elif arg.startswith("--shard="):
            spec = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if spec is not None:
        parse(spec)
    return spec, rest


def step(duration: float) -> float:
    """``duration`` rounded to the grid 2 ** (k / STEPS_PER_DOUBLING) (about ±9 %)."""
    d = max(float(duration), _MIN_DURATION)
    k = round(math.log2(d) * STEPS_PER_DOUBLING)
    return 2.0 ** (k / STEPS_PER_DOUBLING)


def _known(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def assign(modules: Iterable[str], durations: Mapping[str, float], shards: int) -> list[list[str]]:
    """``shards`` lists of module names (each sorted), balanced by duration."""
    # How and why: see the comments atop the module.
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ShardError(f"shards: expected a whole number >= 1, got {shards!r}")
    names = sorted(set(modules))
    known = {n: step(durations[n]) for n in names if _known(durations.get(n))}
    unknown = [n for n in names if n not in known]
    fallback = step(statistics.median(known.values())) if known else DEFAULT_DURATION
    loads = [(0.0, i) for i in range(shards)]  # a heap of (load, shard index)
    out: list[list[str]] = [[] for _ in range(shards)]
    ordered = sorted(known, key=lambda n: (-known[n], n))
    for name, weight in [*((n, known[n]) for n in ordered), *((n, fallback) for n in unknown)]:
        load, index = heapq.heappop(loads)
        out[index].append(name)
        heapq.heappush(loads, (load + weight, index))
    return [sorted(names_) for names_ in out]


def select(modules: Iterable[str], durations: Mapping[str, float], spec: tuple[int, int]) -> list[str]:
    """The names in shard ``spec`` = (I, N) of ``modules``."""
    index, total = spec
    return assign(modules, durations, total)[index - 1]


def durations_from_ledger(ledger_path: Path | str, problems: list[Problem] | None = None) -> dict[str, float]:
    """The latest recorded ``duration_s`` per module (later lines win); {} when there is no ledger."""
    path = Path(ledger_path)
    if not path.is_file():
        return {}
    found: dict[str, float] = {}
    for entry in ledger.read(path, problems):  # malformed lines are skipped (and reported)
        value = entry.get(DURATION)
        # an entry without a usable number (older data, a crash record) is passed over, so a module's
        # last real duration still counts
        if _known(value):
            found[entry[ledger.MODULE]] = float(value)
    return found
