"""Ledger consistency: every observation a manifest shows is backed by an untouched ledger record."""
# A manifest's observed blocks are what people read and what gates score, but only the ledger is
# the audit trail. So each observed value must equal one ledger record of its module exactly: same
# value, same timestamp, same input digest. Equality is exact on purpose: a tolerance window would
# accept a value copied by hand next to a real measurement. Three views catch three kinds of
# tampering:
#
# - ``check_observations``: the working tree's manifests against the ledgers (a hand-edited value,
#   a value with no record, a record deleted after the fact);
# - ``check_chains``: the ledgers' hash chains and torn lines (a record edited or deleted);
# - ``check_git_range``: history, for CI. Each commit that changes an observed block must add the
#   matching ledger line in the same commit, and no commit may remove or rewrite a ledger line,
#   which also covers the last line of a ledger, which no hash chain protects.

from __future__ import annotations

import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from t4tasks.catalog.manifest import module_name
from t4tasks.ledgers import ledger, observed, records
from t4tasks.ledgers.record import BENCH_LEDGER, COVERAGE_LEDGER
from t4tasks.problems import Problem

# The ledgers that back observed blocks, by record kind.
OBSERVATION_LEDGERS = {records.COVERAGE: COVERAGE_LEDGER, records.BENCH: BENCH_LEDGER}
# git's well-known empty tree: the "parent" of a root commit.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class Observation:
    """One observed block of a manifest, reduced to what must equal a ledger record."""

    kind: str                # "coverage" or "bench", the ledger record kind
    values: dict[str, Any]   # the measured values, keyed as ``_record_values`` keys them
    ts: Any                  # observed_at as written in the manifest
    digest: str | None       # observed_digest; None in manifests written before T4 (legacy)


class Record(NamedTuple):
    where: str               # "<ledger file>:<line>", for messages
    entry: dict[str, Any]    # the normalised ledger entry
    chained: bool = True     # False when the hash chain shows this line was edited


Records = dict[tuple[str, str], list[Record]]  # (kind, module) -> records, in ledger order


def check_observations(root: Path, manifests: dict[str, dict], ledger_dir: Path) -> list[Problem]:
    """Report every observed value (coverage, bench) that no ledger record of its module equals."""
    records: Records = defaultdict(list)
    for kind, name in OBSERVATION_LEDGERS.items():
        path = ledger_dir / name
        if path.is_file():
            edited = {p.line for p in ledger.verify_chain(path)}
            # torn lines are skipped here: ``check_chains`` reports them
            _index(records, _label(root, path), ledger.read(path), kind, edited)
    problems = []
    for relpath, manifest in sorted(manifests.items()):  # repo-relative path: parsed content
        module = module_name(manifest)
        for observation in _observations(manifest):
            if not isinstance(module, str) or not module:
                problems.append(Problem(relpath, f"observed {observation.kind} but no module name, "
                                                 "so no ledger record can back it"))
                continue
            verdict = _judge(observation, module, records[observation.kind, module])
            if verdict is not None:
                problems.append(Problem(relpath, verdict))
    return problems


def check_chains(ledger_dir: Path) -> list[Problem]:
    """Report broken hash chains and unreadable lines in every ``*.ndjson`` ledger of the folder."""
    # A broken chain means a line was edited, deleted or inserted after it was appended.
    problems: list[Problem] = []
    for path in sorted(ledger_dir.glob("*.ndjson")):
        problems += ledger.verify_chain(path)
        for _ in ledger.read(path, problems):  # reading collects torn and malformed lines
            pass
    return problems


def check_git_range(root: Path, rev_range: str, manifest_glob: str = "**/module.manifest.json",
                    ledger_dir_rel: str = "manifests/.ledger") -> list[Problem]:
    """Check every commit of ``git rev-list <rev_range>``, merges included, for unrecorded observations."""
    # ``root`` must be the top of the git work tree; paths are relative to it.
    try:
        commits = [line.split() for line in _git(root, "rev-list", "--parents", rev_range, "--").splitlines()]
    except subprocess.CalledProcessError as exc:
        return [Problem(f"git range {rev_range}", exc.stderr.decode(errors="replace").strip())]
    problems: list[Problem] = []
    for sha, *parents in commits:
        # compared with each parent (a root commit with the empty tree): an observed block is reported when,
        # against every parent, it changed and the commit did not add the ledger record that equals it, so a
        # merge answers only for what it introduced, not for what a branch brings (that branch's commit
        # does); likewise a ledger line the commit removed or rewrote relative to every parent
        messages = _check_commit(root, sha, parents or [EMPTY_TREE], manifest_glob, ledger_dir_rel)
        if messages:
            short = _git(root, "rev-parse", "--short", sha).strip()
            problems += [Problem(f"commit {short}", message) for message in messages]
    return problems


def _check_commit(root: Path, sha: str, parents: list[str], manifest_glob: str,
                  ledger_dir_rel: str) -> list[str]:
    """The messages for one commit: findings that hold against every one of its parents."""
    per_parent = []
    for parent in parents:
        added, removed = _ledger_diff(root, parent, sha, ledger_dir_rel)
        found = set(removed)
        for path in _changed_manifests(root, parent, sha, manifest_glob):
            found |= _unrecorded(root, parent, sha, path, added)
        per_parent.append(found)
    return sorted(set.intersection(*per_parent))


def _unrecorded(root: Path, parent: str, sha: str, path: str, added: Records) -> set[str]:
    """The observed blocks of one manifest that changed since ``parent`` without a matching record."""
    raw = _blob(root, sha, path)
    if raw is None:
        return set()  # deleted: nothing observed any more
    new = _json_object(raw)
    if new is None:
        return {f"{path}: not a JSON object at this commit, so its observed blocks cannot be checked"}
    before = {o.kind: o for o in _observations(_json_object(_blob(root, parent, path)) or {})}
    module = module_name(new)
    return {f"{path}: observed {o.kind} changed without a matching ledger record"
            for o in _observations(new)
            if before.get(o.kind) != o
            and (not isinstance(module, str) or _judge(o, module, added[o.kind, module]) is not None)}


def _observations(manifest: dict) -> list[Observation]:
    """The manifest's observed blocks, in the shape they are compared in."""
    found = []
    coverage = observed.coverage_of(manifest)
    if coverage is not None:
        found.append(Observation("coverage", {"coverage": coverage["coverage"]},
                                 coverage["ts"], coverage["digest"]))
    bench = observed.bench_of(manifest)
    if bench is not None:
        values = {field: bench.get(field) for field in (*observed.PERF_FIELDS, observed.ENV_FINGERPRINT)}
        found.append(Observation("bench", values, bench.get(observed.OBSERVED_AT),
                                 bench.get(observed.OBSERVED_DIGEST)))
    return found


def _record_values(kind: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A ledger entry's values keyed like the manifest block that ``record.py`` sets from it."""
    if kind == "coverage":
        return {"coverage": entry.get(ledger.COVERAGE)}
    summary = entry.get("summary") if isinstance(entry.get("summary"), dict) else {}
    values = {field: summary.get(field.removeprefix("latency_")) for field in observed.PERF_FIELDS}
    values[observed.ENV_FINGERPRINT] = entry.get("env_fingerprint")
    return values


def _judge(observation: Observation, module: str, records: list[Record]) -> str | None:
    """None when a record equals the observation, else what is wrong, for a problem message."""
    kind, shown = observation.kind, _show(observation)
    try:
        ts = ledger.format_ts(ledger.parse_ts(observation.ts, "observed_at"))
    except ValueError as exc:
        return f"observed {kind} {shown}: {exc}"
    if observation.digest is not None:  # a T4 block: joined by (ts, digest), then the values must be equal
        joined = [r for r in records
                  if r.entry[ledger.TS] == ts and r.entry.get(ledger.INPUT_DIGEST) == observation.digest]
        if not joined:
            return (f"observed {kind} {shown} at {ts} (digest {str(observation.digest)[:12]}) has no "
                    f"ledger record of {module}")
        if any(_record_values(kind, r.entry) == observation.values for r in joined):
            return None
        record = joined[-1]
        return (f"observed {kind} {shown} differs from the ledger record with the same ts and digest "
                f"({record.where}: {_show_values(kind, _record_values(kind, record.entry))}): "
                + ("the ledger record was edited after the fact (its hash chain is broken)"
                   if not record.chained else "the manifest was edited by hand"))
    # a legacy block (no digest) can only be joined by (ts, value) with a legacy record (no digest either)
    legacy = [r for r in records if ledger.INPUT_DIGEST not in r.entry
              and _record_values(kind, r.entry) == observation.values]
    if any(r.entry[ledger.TS] == ts for r in legacy):
        return None
    same_value = "".join(f"; {r.where} records that value at {r.entry[ledger.TS]}" for r in legacy)
    return (f"legacy observed {kind} {shown} at {ts} (no digest) equals no ledger record of {module} "
            f"with that exact timestamp{same_value}")


def _show(observation: Observation) -> str:
    return _show_values(observation.kind, observation.values)


def _show_values(kind: str, values: dict[str, Any]) -> str:
    """Values as a reader wants them in a message: the number for coverage, all fields for bench."""
    if kind == "coverage":
        return repr(values["coverage"])
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


def _index(records: Records, label: str, entries: Iterable[dict[str, Any]], kind: str,
           edited: set[int] = frozenset()) -> None:
    """Add the entries of one observation ledger to ``records``, keyed by (kind, module)."""
    for entry in entries:
        if entry[ledger.KIND] == kind:
            where = f"{label}:{entry[ledger.LINE]}" if ledger.LINE in entry else label
            chained = entry.get(ledger.LINE) not in edited  # ``edited``: lines whose hash chain is broken
            records[kind, entry[ledger.MODULE]].append(Record(where, entry, chained))


def _label(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` when it is inside it: messages name files as users see them."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _git(root: Path, *args: str) -> str:
    return _git_bytes(root, *args).decode("utf-8", errors="surrogateescape")


def _git_bytes(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True).stdout


def _changed_manifests(root: Path, parent: str, sha: str, manifest_glob: str) -> list[str]:
    """Manifests that differ between ``parent`` and ``sha`` (``**/`` also matches the root)."""
    out = _git(root, "diff", "--name-only", "-z", "--no-renames", parent, sha, "--",
               f":(glob){manifest_glob}")
    return [path for path in out.split("\0") if path]


def _blob(root: Path, rev: str, path: str) -> bytes | None:
    """The file's content at ``rev``, None when it does not exist there."""
    done = subprocess.run(["git", "-C", str(root), "show", f"{rev}:{path}"], capture_output=True)
    return done.stdout if done.returncode == 0 else None


def _json_object(raw: bytes | None) -> dict | None:
    """The parsed JSON object, None when absent, invalid or not an object."""
    try:
        data = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _ledger_diff(root: Path, parent: str, sha: str, ledger_dir_rel: str) -> tuple[Records, set[str]]:
    """What ``sha`` changed in the ledgers since ``parent``."""
    # Returns the observation records it added, and one message per line it removed or rewrote.
    diff = _git_bytes(root, "diff", "--no-color", "--no-ext-diff", "--no-renames", "--unified=0",
                      "--src-prefix=a/", "--dst-prefix=b/", parent, sha, "--", ledger_dir_rel)
    plus: dict[str, list[bytes]] = defaultdict(list)
    minus: dict[str, list[bytes]] = defaultdict(list)
    old = new = ""
    in_header = False
    for line in diff.split(b"\n"):
        if line.startswith(b"diff --git "):
            in_header = True
        elif in_header:
            if line.startswith(b"--- "):
                old = line[4:].decode(errors="surrogateescape").removeprefix("a/")
            elif line.startswith(b"+++ "):
                new = line[4:].decode(errors="surrogateescape").removeprefix("b/")
            elif line.startswith(b"@@"):
                in_header = False
        elif line.startswith(b"+"):
            plus[new].append(line[1:])
        elif line.startswith(b"-"):
            minus[old].append(line[1:])
    added: Records = defaultdict(list)
    for path, lines in plus.items():
        kind = ledger._file_kind(Path(path))
        if kind in OBSERVATION_LEDGERS:
            _index(added, path, _parsed(lines, kind), kind)
    removed = set()
    for path, lines in minus.items():
        if path.endswith(".ndjson"):
            # a line removed and added back unchanged (a torn last line getting its newline) is no removal
            for raw in (Counter(lines) - Counter(plus.get(path, []))):
                removed.add(f"{path}: {_describe(raw, path)} was removed or rewritten "
                            "(ledgers are append-only)")
    return added, removed


def _parsed(lines: list[bytes], kind: str) -> Iterable[dict[str, Any]]:
    """The normalised entries of added ledger lines; torn ones are ``check_chains``' to report."""
    for raw in lines:
        try:
            yield ledger._parse(raw, kind)
        except ValueError:
            continue


def _describe(raw: bytes, path: str) -> str:
    """A removed ledger line, named by its module and timestamp when it can be read."""
    try:
        entry = ledger._parse(raw, ledger._file_kind(Path(path)))
    except ValueError:
        return "a malformed line"
    return f"the {entry[ledger.KIND]} record of {entry[ledger.MODULE]} at {entry[ledger.TS]}"
