"""``merge``: shard fragments folded into the ledgers and manifests, the same in any order.

The end-to-end test runs 3 shards of a real 9-module repository as 3 separate processes, each in
its own copy of the repository (its own ``.t4/``, like 3 CI machines), measuring with the real
``coverage.measure``; merges their fragments in different orders; and compares the result with a
single unsharded recording through ``record.record_coverage``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from t4tasks import products
from t4tasks.catalog.project import Project
from t4tasks.checks import validate
from t4tasks.ledgers import ledger, merge, observed, shard
from tests.support import MANIFEST, REPO, _env, git_init, make_repo, manifest

LEDGER = "manifests/.ledger"
VOLATILE = {"ts", "prev", "duration_s"}


# --------------------------------------------------------------------------------------------
# helpers


def rec(module: str, digest: str, ts: str, kind: str = "coverage", **values) -> dict:
    values = values or ({"coverage": 50.0, "status": "ok"} if kind == "coverage" else
                        {"summary": {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0}, "env_fingerprint": "fp"})
    return ledger.new_record(kind, module, values, digest, ts=ledger.parse_ts(ts))


def write_fragment(path: Path, records: list[dict]) -> Path:
    for record in records:
        assert ledger.append(path, record)
    return path


def small_repo(root: Path, names=("a", "b", "c")) -> dict[str, Path]:
    make_repo(root, {n: manifest(n) for n in names})
    return {n: Path(n) / MANIFEST for n in names}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every ledger and manifest file's bytes."""
    files = sorted(root.glob(f"{LEDGER}/*.ndjson")) + sorted(root.glob(f"*/{MANIFEST}"))
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


# --------------------------------------------------------------------------------------------
# fragment paths and the shard-side append


def test_fragment_path_names_kind_and_shard(tmp_path):
    assert merge.fragment_path(tmp_path / ".t4", "coverage", (2, 3)) == tmp_path / ".t4/fragments/coverage-2of3.ndjson"
    assert merge.fragment_path(Path(".t4"), "bench", (1, 1)).as_posix() == ".t4/fragments/bench-1of1.ndjson"
    with pytest.raises(ValueError, match="kind"):
        merge.fragment_path(tmp_path, "../evil", (1, 1))


def test_append_fragment_skips_what_the_ledger_already_has(tmp_path):
    main, fragment = tmp_path / "coverage.ndjson", tmp_path / "frag" / "coverage-1of2.ndjson"
    old = rec("a", "d1", "2024-01-01T00:00:00+00:00")
    ledger.append(main, old)
    # unchanged module measured again on a shard: nothing written, the ledger's entry is the answer
    again = rec("a", "d1", "2024-02-01T00:00:00+00:00", coverage=51.0)
    got = merge.append_fragment(main, fragment, again)
    assert got["ts"] == old["ts"] and not fragment.exists()
    # a changed module goes to the fragment, never the ledger
    new = rec("a", "d2", "2024-02-01T00:00:00+00:00")
    assert merge.append_fragment(main, fragment, new) == new
    assert [e["input_digest"] for e in ledger.read(fragment)] == ["d2"]
    assert [e["input_digest"] for e in ledger.read(main)] == ["d1"]
    # a rerun after a crash (same inputs, later time) appends nothing and returns the first entry
    rerun = rec("a", "d2", "2024-02-02T00:00:00+00:00")
    assert merge.append_fragment(main, fragment, rerun)["ts"] == new["ts"]
    assert len(list(ledger.read(fragment))) == 1
    # fragment lines are ledger lines: same envelope, a valid chain
    assert ledger.verify_chain(fragment) == []
    assert json.loads(fragment.read_text())["schema"] == ledger.SCHEMA_ID


# --------------------------------------------------------------------------------------------
# merge rules (synthetic records: fast)


def three_fragments(folder: Path) -> list[Path]:
    return [
        write_fragment(folder / "coverage-1of3.ndjson", [rec("a", "a1", "2024-03-01T00:00:03+00:00"),
                                                         rec("c", "c1", "2024-03-01T00:00:01+00:00")]),
        write_fragment(folder / "coverage-2of3.ndjson", [rec("b", "b1", "2024-03-01T00:00:02+00:00"),
                                                         rec("a", "a0", "2024-03-01T00:00:01+00:00")]),
        write_fragment(folder / "bench-3of3.ndjson", [rec("c", "cb", "2024-03-01T00:00:05+00:00", kind="bench"),
                                                      rec("b", "bb", "2024-03-01T00:00:04+00:00", kind="bench")]),
    ]


def test_every_fragment_order_gives_byte_identical_ledgers_and_manifests(tmp_path):
    fragments = three_fragments(tmp_path / "frags")
    results = set()
    for n, order in enumerate(itertools.permutations(fragments)):
        root = tmp_path / f"r{n}"
        manifests = small_repo(root)
        # an extra copy of one fragment (downloaded twice) changes nothing either
        counts = merge.merge(root, Path(LEDGER), [*order, order[0]], manifests)
        assert counts["appended"] == 6 and counts["problems"] == [], counts
        results.add(tuple(sorted(snapshot(root).items())))
    assert len(results) == 1
    files = dict(next(iter(results)))
    cov = [json.loads(x) for x in files[f"{LEDGER}/coverage.ndjson"].splitlines()]
    assert [(e["module"], e["input_digest"]) for e in cov] == [("a", "a0"), ("a", "a1"), ("b", "b1"), ("c", "c1")]
    root = tmp_path / "r0"
    assert ledger.verify_chain(root / LEDGER / "coverage.ndjson") == []
    assert ledger.verify_chain(root / LEDGER / "bench.ndjson") == []
    # each manifest shows its module's latest merged record, joined by ts and digest
    a = orjson.loads((root / "a" / MANIFEST).read_bytes())
    assert observed.coverage_of(a) == {"coverage": 50.0, "ts": "2024-03-01T00:00:03.000000+00:00", "digest": "a1"}
    c = orjson.loads((root / "c" / MANIFEST).read_bytes())
    assert observed.bench_of(c)["observed_digest"] == "cb"
    assert observed.bench_of(c)["latency_p95_ms"] == 2.0
    assert observed.bench_of(orjson.loads((root / "a" / MANIFEST).read_bytes())) is None


def test_merging_again_appends_nothing_and_rewrites_nothing(tmp_path):
    fragments = three_fragments(tmp_path / "frags")
    manifests = small_repo(tmp_path / "r")
    merge.merge(tmp_path / "r", Path(LEDGER), fragments, manifests)
    before = snapshot(tmp_path / "r")
    mtimes = {p: os.stat(tmp_path / "r" / p).st_mtime_ns for p in before}
    counts = merge.merge(tmp_path / "r", Path(LEDGER), list(reversed(fragments)), manifests)
    assert counts["appended"] == 0 and counts["stale"] == 6 and counts["manifests_updated"] == 0
    assert snapshot(tmp_path / "r") == before
    assert {p: os.stat(tmp_path / "r" / p).st_mtime_ns for p in before} == mtimes


def test_dedup_against_the_ledger_latest_entry_and_stale_fragments(tmp_path):
    root = tmp_path / "r"
    manifests = small_repo(root)
    main = root / LEDGER / "coverage.ndjson"
    ledger.append(main, rec("a", "a1", "2024-01-01T00:00:00+00:00"))
    ledger.append(main, rec("b", "b1", "2024-01-01T00:00:00+00:00"))
    ledger.append(main, rec("b", "b2", "2024-02-01T00:00:00+00:00"))
    fragment = write_fragment(tmp_path / "coverage-1of1.ndjson", [
        rec("a", "a1", "2024-03-01T00:00:00+00:00", coverage=99.0),   # unchanged module: duplicate
        rec("b", "b1", "2024-01-15T00:00:00+00:00"),                  # older than b's latest: stale
        rec("c", "c1", "2024-03-01T00:00:00+00:00"),                  # new: appended
    ])
    counts = merge.merge(root, Path(LEDGER), [fragment], manifests)
    assert (counts["appended"], counts["duplicates"], counts["stale"]) == (1, 1, 1)
    entries = list(ledger.read(main))
    assert [(e["module"], e["input_digest"]) for e in entries] == [("a", "a1"), ("b", "b1"), ("b", "b2"), ("c", "c1")]
    assert ledger.verify_chain(main) == []
    # the manifests show the ledger's latest entries (like record.py after a deduplicated append)
    cov = {n: observed.coverage_of(orjson.loads((root / p).read_bytes())) for n, p in manifests.items()}
    assert cov["a"] == {"coverage": 50.0, "ts": "2024-01-01T00:00:00.000000+00:00", "digest": "a1"}
    assert cov["b"]["digest"] == "b2" and cov["c"]["digest"] == "c1"


def test_a_reverted_module_is_recorded_again(tmp_path):
    """Dedup is against the latest entry, not the whole history: A -> B -> A records A again."""
    root = tmp_path / "r"
    manifests = small_repo(root)
    main = root / LEDGER / "coverage.ndjson"
    ledger.append(main, rec("a", "A", "2024-01-01T00:00:00+00:00"))
    ledger.append(main, rec("a", "B", "2024-02-01T00:00:00+00:00"))
    fragment = write_fragment(tmp_path / "coverage-1of1.ndjson", [rec("a", "A", "2024-03-01T00:00:00+00:00")])
    assert merge.merge(root, Path(LEDGER), [fragment], manifests)["appended"] == 1
    assert observed.coverage_of(orjson.loads((root / "a" / MANIFEST).read_bytes()))["digest"] == "A"


def test_same_inputs_measured_twice_in_the_fragments_keeps_the_first(tmp_path):
    root = tmp_path / "r"
    manifests = small_repo(root)
    f1 = write_fragment(tmp_path / "coverage-1of2.ndjson", [rec("a", "A", "2024-03-01T00:00:02+00:00", coverage=60.0)])
    f2 = write_fragment(tmp_path / "coverage-2of2.ndjson", [rec("a", "A", "2024-03-01T00:00:01+00:00", coverage=61.0)])
    counts = merge.merge(root, Path(LEDGER), [f1, f2], manifests)
    assert (counts["appended"], counts["duplicates"]) == (1, 1)
    assert [e["coverage"] for e in ledger.read(root / LEDGER / "coverage.ndjson")] == [61.0]


def test_bad_input_is_reported_and_the_rest_still_merged(tmp_path):
    root = tmp_path / "r"
    manifests = small_repo(root, names=("a",))
    fragment = write_fragment(tmp_path / "coverage-1of1.ndjson", [rec("a", "A", "2024-03-01T00:00:00+00:00"),
                                                                 rec("ghost", "G", "2024-03-01T00:00:00+00:00")])
    with fragment.open("ab") as handle:
        handle.write(b'{"module": "a", "ts": "2024-03-01T00:00:09+00:00", "kind": "coverage"}\n')  # no schema
        handle.write(orjson.dumps({**rec("a", "X", "2024-03-01T00:00:09+00:00"), "kind": "scaffold"}) + b"\n")
        handle.write(b'{"module": "a", "torn')
    counts = merge.merge(root, Path(LEDGER), [fragment, tmp_path / "missing.ndjson"], manifests)
    problems = counts["problems"]
    assert counts["appended"] == 2, counts  # "a" and "ghost": a module without a manifest keeps its record
    assert any("missing.ndjson" in p and "not found" in p for p in problems)
    assert any(p.startswith(f"{fragment}:3:") and "t4.ledger/1" in p for p in problems)
    assert any(p.startswith(f"{fragment}:4:") and "scaffold" in p for p in problems)
    assert any(p.startswith(f"{fragment}:5:") and "torn" in p for p in problems)
    assert any("ghost" in p and "no manifest" in p for p in problems)
    assert len(problems) == 5


def test_t4_merge_task_through_doit(tmp_path):
    """``task_merge`` as tasks.py will expose it: ``t4 merge FRAGMENTS...`` (doit pos_arg)."""
    root = tmp_path / "r"
    small_repo(root)
    fragments = three_fragments(root / ".t4" / "fragments")
    script = textwrap.dedent("""
        import sys
        from doit.cmd_base import ModuleTaskLoader
        from doit.doit_cmd import DoitMain
        from t4tasks.ledgers.merge import task_merge
        ns = {"task_merge": task_merge,
              "DOIT_CONFIG": {"backend": "sqlite3", "dep_file": ".t4/doit.sqlite3"}}
        sys.exit(DoitMain(ModuleTaskLoader(ns), config_filenames=()).run(sys.argv[1:]))
    """)
    args = [sys.executable, "-c", script, "merge", *(str(f.relative_to(root)) for f in fragments)]
    done = subprocess.run(args, cwd=root, capture_output=True, text=True, env=_env(root), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 fragment(s), 6 record(s): 6 appended" in done.stdout
    assert len((root / LEDGER / "coverage.ndjson").read_text().splitlines()) == 4
    # a missing fragment: reported, non-zero exit
    done = subprocess.run([*args[:4], "nope.ndjson"], cwd=root, capture_output=True, text=True,
                          env=_env(root), timeout=120)
    assert done.returncode != 0 and "nope.ndjson: fragment not found" in done.stderr
    done = subprocess.run(args[:4], cwd=root, capture_output=True, text=True, env=_env(root), timeout=120)
    assert done.returncode != 0 and "give the fragment files" in done.stdout + done.stderr


# --------------------------------------------------------------------------------------------
# end to end: 3 shard processes of a real 9-module repository


NAMES = [f"mod{i}" for i in range(1, 10)]


def nine_module_repo(root: Path) -> Path:
    files = {"README.md": "# nine\n"}
    for i, name in enumerate(NAMES, start=1):
        # module i has i functions, its tests call the first (i + 1) // 2: different coverage each
        code = "".join(f"def f{k}(x):\n    if x > {k}:\n        return x\n    return -x\n\n\n" for k in range(i))
        calls = "".join(f"    assert f{k}({k + 1}) == {k + 1}\n" for k in range((i + 1) // 2))
        files[f"{name}/__init__.py"] = ""
        files[f"{name}/core.py"] = code
        files[f"{name}/tests/test_core.py"] = f"from {name}.core import *\n\n\ndef test_some():\n{calls}"
    make_repo(root, {n: manifest(n) for n in NAMES}, files)
    # an earlier run recorded durations (older inputs): they decide the split
    path = root / LEDGER / "coverage.ndjson"
    for i, name in enumerate(NAMES, start=1):
        ledger.append(path, rec(name, f"old-{name}", "2024-01-01T00:00:00+00:00",
                                coverage=1.0, status="ok", duration_s=float(2 ** (i % 4))))
    return git_init(root)


SHARD_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from t4tasks.measure import coverage
    from t4tasks.measure import inputs
    from t4tasks.ledgers import ledger
    from t4tasks.ledgers import merge
    from t4tasks.ledgers import record
    from t4tasks.ledgers import shard
    from t4tasks.catalog.project import Project

    root, spec = Path(sys.argv[1]).resolve(), shard.parse(sys.argv[2])
    os.chdir(root)
    project = Project.load(root)
    main = record.ledger_path(project, record.COVERAGE_LEDGER)
    names = shard.select([m.name for m in project.modules], shard.durations_from_ledger(main), spec)
    fragment = merge.fragment_path(project.state_dir(), "coverage", spec)
    for name in names:
        module = project.by_name[name]
        result = coverage.measure(root, module, omit=project.nested_paths(module), timeout=120)
        digest = inputs.input_digest(project.root, inputs.module_inputs(project, module, module.test_paths),
                                     inputs.coverage_spec(project, module))
        values = {k: v for k, v in result.items() if k != "detail" or v}
        entry = ledger.new_record("coverage", name, values, digest, git_commit=ledger.git_head(root))
        merge.append_fragment(main, fragment, entry)
    print(json.dumps({"pid": os.getpid(), "names": names}))
""")

UNSHARDED_SCRIPT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from t4tasks.measure import coverage
    from t4tasks.measure import inputs
    from t4tasks.ledgers import record
    from t4tasks.catalog.project import Project

    root = Path(sys.argv[1]).resolve()
    os.chdir(root)
    project = Project.load(root)
    for module in reversed(project.modules):  # another order than any shard's
        result = coverage.measure(root, module, omit=project.nested_paths(module), timeout=120)
        digest = inputs.input_digest(project.root, inputs.module_inputs(project, module, module.test_paths),
                                     inputs.coverage_spec(project, module))
        record.record_coverage(project, module, result, digest)
""")


def _python(script: str, *args: str, cwd: Path) -> subprocess.Popen:
    env = _env(cwd)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return out


def _meta(root: Path) -> bytes:
    return products.build_meta(Project.load(root)).content


def _without(value, keys):
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


@pytest.mark.slow
def test_three_shard_processes_merge_like_one_unsharded_run(tmp_path, no_outer_git):
    base = nine_module_repo(tmp_path / "base")
    durations = shard.durations_from_ledger(base / LEDGER / "coverage.ndjson")
    expected_split = shard.assign(NAMES, durations, 3)
    assert all(expected_split) and expected_split != [NAMES[0:3], NAMES[3:6], NAMES[6:9]]

    # 3 machines: 3 copies, 3 processes at once, plus the unsharded reference in a 4th
    copies = {i: tmp_path / f"shard{i}" for i in (1, 2, 3)}
    for copy in [*copies.values(), tmp_path / "single"]:
        shutil.copytree(base, copy, symlinks=True)
    running = {i: _python(SHARD_SCRIPT, str(copies[i]), f"{i}/3", cwd=copies[i]) for i in copies}
    single = _python(UNSHARDED_SCRIPT, str(tmp_path / "single"), cwd=tmp_path / "single")
    outputs = {i: json.loads(_finish(p)) for i, p in running.items()}
    _finish(single)
    assert len({o["pid"] for o in outputs.values()} | {os.getpid()}) == 4
    assert [outputs[i]["names"] for i in (1, 2, 3)] == expected_split

    fragments = []
    for i, copy in copies.items():
        fragment = copy / ".t4" / "fragments" / f"coverage-{i}of3.ndjson"
        assert len(fragment.read_text().splitlines()) == len(expected_split[i - 1])
        # a shard writes fragments, never the committed ledger or another shard's state
        assert (copy / LEDGER / "coverage.ndjson").read_bytes() == (base / LEDGER / "coverage.ndjson").read_bytes()
        fragments.append(shutil.copy(fragment, tmp_path / fragment.name))
    fragments = [Path(f) for f in fragments]

    merged = {}
    for label, order in {"123": fragments, "312": [fragments[2], fragments[0], fragments[1]],
                         "21": [fragments[1], fragments[0], fragments[2], fragments[1]]}.items():
        root = tmp_path / f"merged{label}"
        shutil.copytree(base, root, symlinks=True)
        project = Project.load(root)
        counts = merge.merge(root, Path(LEDGER), order, {m.name: Path(m.manifest_path) for m in project.modules},
                             lock_dir=project.state_dir() / "locks")
        assert counts["appended"] == 9 and counts["manifests_updated"] == 9 and not counts["problems"], counts
        merged[label] = (snapshot(root), _meta(root))
        assert ledger.verify_chain(root / LEDGER / "coverage.ndjson") == []
        assert validate.check_ledger(Project.load(root)).status == "pass"
    # byte-identical ledgers, manifests and META_REGISTRY whatever the order
    assert merged["123"] == merged["312"] == merged["21"]

    # ... and the same content as one unsharded run, timestamps aside
    files, meta_bytes = merged["123"]
    single_files, single_meta = snapshot(tmp_path / "single"), _meta(tmp_path / "single")
    assert sorted(files) == sorted(single_files)

    def content(raw: bytes) -> list[dict]:
        return sorted((_without(json.loads(line), VOLATILE) for line in raw.splitlines()),
                      key=lambda e: (e["module"], e["input_digest"]))

    for path in files:
        if path.endswith(".ndjson"):
            assert content(files[path]) == content(single_files[path])
            assert len(content(files[path])) == 18
        else:
            ours, theirs = json.loads(files[path]), json.loads(single_files[path])
            assert _without(ours, {"observed_at"}) == _without(theirs, {"observed_at"})
            assert ours["testing"]["observed_digest"] == theirs["testing"]["observed_digest"]
    assert _without(json.loads(meta_bytes), {"observed_at"}) == _without(json.loads(single_meta), {"observed_at"})
    coverages = {m["name"]: m["coverage"]["observed"] for m in json.loads(meta_bytes)["modules"]}
    assert len(set(coverages.values())) > 3 and None not in coverages.values()
