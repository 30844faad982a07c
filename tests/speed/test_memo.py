"""``t4tasks.speed.memo``: per-item results remembered under the state folder by the content they read.

Every test uses a real store file in tmp_path and counts how often ``compute`` runs: a memo that
does not remember, remembers too much, or trusts a store it should not, changes that count.
"""

from __future__ import annotations

import hashlib
import os
import time

import orjson
import pytest

from t4tasks.speed import digests, memo
from t4tasks.speed.memo import Memo


class Counter:
    """A ``compute`` callable that counts its calls and returns a fixed JSON value."""

    def __init__(self, value):
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.value


@pytest.fixture
def store(tmp_path):
    """``<state>/memo/test.json`` with ``<state>`` existing, as a T4 run leaves it."""
    state = tmp_path / ".t4"
    state.mkdir()
    return state / "memo" / "test.json"


def age(path, seconds=100):
    """Move a file's mtime into the past: a later rewrite is then visible even on coarse clocks."""
    old = os.stat(path).st_mtime_ns - seconds * 1_000_000_000
    os.utime(path, ns=(old, old))
    return os.stat(path)


def test_a_value_computed_once_comes_from_the_store_in_a_new_memo(store):
    first = Memo(store)
    compute = Counter({"summary": "Adds numbers.", "see_also": ["beta"]})
    key = memo.key("summary/1", "alpha/__init__.py", "sha-of-content")
    assert first.get(key, compute) == compute.value
    assert compute.calls == 1
    first.save()
    assert store.is_file()                            # save creates <state>/memo/

    second = Memo(store)                              # a later run, same store file
    again = Counter("never used")
    assert second.get(key, again) == {"summary": "Adds numbers.", "see_also": ["beta"]}
    assert again.calls == 0
    # a key that was never computed is computed
    other = Counter(["other"])
    assert second.get(memo.key("summary/1", "beta/__init__.py", "x"), other) == ["other"]
    assert other.calls == 1


def test_save_keeps_only_the_entries_used_since_loading(store):
    kept, dropped = memo.key("kept"), memo.key("dropped")
    first = Memo(store)
    first.get(kept, Counter(1))
    first.get(dropped, Counter(2))
    first.save()
    assert set(orjson.loads(store.read_bytes())["entries"]) == {kept, dropped}

    second = Memo(store)
    hit = Counter("recomputed")
    assert second.get(kept, hit) == 1 and hit.calls == 0   # only "kept" is asked for this time
    second.save()   # nothing new was computed, but an entry went unused: the file is rewritten
    assert set(orjson.loads(store.read_bytes())["entries"]) == {kept}

    third = Memo(store)
    recompute = Counter("fresh")
    assert third.get(dropped, recompute) == "fresh"         # gone: computed again
    assert recompute.calls == 1
    assert third.get(kept, Counter("unused")) == 1          # still remembered


def test_a_store_written_by_other_code_is_ignored(store):
    key = memo.key("doc/1", "README.md", "content")
    first = Memo(store)
    first.get(key, Counter({"anchors": ["old"]}))
    first.save()
    data = orjson.loads(store.read_bytes())
    assert data["code"] == memo.code_id()       # the store names the code that wrote it
    # the same store, but written by another T4 (another version, or an edited checkout)
    store.write_bytes(orjson.dumps({**data, "code": "0" * 32}))

    second = Memo(store)
    compute = Counter({"anchors": ["new"]})
    assert second.get(key, compute) == {"anchors": ["new"]}
    assert compute.calls == 1
    second.save()                               # and it is replaced by this code's own store
    assert orjson.loads(store.read_bytes()) == {"code": memo.code_id(), "entries": {key: {"anchors": ["new"]}}}


def test_code_id_changes_with_the_code(tmp_path, monkeypatch):
    """What makes the test above meaningful in practice: the id names T4's own files' content."""
    before = memo.code_id()
    assert before == memo.code_id()             # stable within a process
    memo.code_id.cache_clear()
    real = memo.sha256_of
    # one package file reads differently: a checkout with that file edited
    monkeypatch.setattr(memo, "sha256_of", lambda p: "edited" if p.name == "memo.py" else real(p))
    try:
        assert memo.code_id() != before
    finally:
        memo.code_id.cache_clear()   # the next caller computes the real id again


@pytest.mark.parametrize("content", [
    b'{"code": "',                                   # torn mid-write
    b"\x00\xff garbage",                             # not JSON at all
    b"",                                             # empty
    b'["a", "list"]',                                # JSON, wrong shape
])
def test_a_torn_or_invalid_store_is_ignored_not_an_error(store, content):
    store.parent.mkdir(parents=True)
    store.write_bytes(content)
    remembered = Memo(store)
    compute = Counter(42)
    assert remembered.get(memo.key("x"), compute) == 42
    assert compute.calls == 1
    remembered.save()                                # replaced by a valid store
    assert orjson.loads(store.read_bytes())["entries"] == {memo.key("x"): 42}
    assert Memo(store).get(memo.key("x"), Counter("unused")) == 42


def test_save_writes_nothing_without_the_state_folder(tmp_path):
    """Reading a repository as a library (a dry run) must leave no ``.t4/`` behind, and costs no
    key: without a state folder the key (a callable) is never asked for."""
    state = tmp_path / ".t4"
    remembered = Memo(state / "memo" / "modules.json")
    assert not remembered.enabled

    def key() -> str:
        raise AssertionError("a key was computed for a memo that cannot keep anything")

    assert remembered.get(key, Counter(1)) == 1
    remembered.save()
    assert not state.exists()
    assert list(tmp_path.iterdir()) == []
    # the positive control: with the state folder present, a memo keeps what it computed
    state.mkdir()
    remembered = Memo(state / "memo" / "modules.json")
    remembered.get(lambda: memo.key("a"), Counter(1))
    remembered.save()
    assert orjson.loads((state / "memo" / "modules.json").read_bytes())["entries"] == {memo.key("a"): 1}


def test_save_writes_nothing_when_nothing_changed(store):
    keys = [memo.key("a"), memo.key("b")]
    first = Memo(store)
    for k in keys:
        first.get(k, Counter(k))
    first.save()
    before = age(store)
    content = store.read_bytes()

    second = Memo(store)                 # a run that uses exactly the stored entries ...
    for k in reversed(keys):             # ... in another order, so a rewrite would differ
        second.get(k, Counter("unused"))
    second.save()
    after = os.stat(store)
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert store.read_bytes() == content

    third = Memo(store)                  # one new entry: now it is written
    for k in keys:
        third.get(k, Counter("unused"))
    third.get(memo.key("c"), Counter(3))
    third.save()
    assert os.stat(store).st_mtime_ns != before.st_mtime_ns
    assert len(orjson.loads(store.read_bytes())["entries"]) == 3


def test_key_names_its_parts():
    assert memo.key("doc/1", "a.md", "x") == memo.key("doc/1", "a.md", "x")
    assert len({memo.key("doc/1", "a.md", "x"), memo.key("doc/1", "a.md", "y"),
                memo.key("doc/1", "b.md", "x"), memo.key("doc/2", "a.md", "x")}) == 4
    # dict parts are keyed by content, not by insertion order
    assert memo.key({"a": 1, "b": 2}) == memo.key({"b": 2, "a": 1})


def test_file_part_is_absent_for_a_missing_file_and_follows_the_content(tmp_path):
    assert memo.file_part(tmp_path, "missing.md") == memo.ABSENT
    assert memo.file_part(tmp_path, None) == memo.ABSENT
    assert memo.file_part(tmp_path, "") == memo.ABSENT
    path = tmp_path / "doc.md"
    path.write_bytes(b"# One\n")
    first = memo.file_part(tmp_path, "doc.md")
    assert first == "git:" + hashlib.sha1(b"blob 6\0# One\n").hexdigest()   # outside git: as git names it
    path.write_bytes(b"# Two\n")                                # same size, same second
    second = memo.file_part(tmp_path, "doc.md")
    assert second == "git:" + hashlib.sha1(b"blob 6\0# Two\n").hexdigest()
    assert second != first
    path.unlink()
    assert memo.file_part(tmp_path, "doc.md") == memo.ABSENT


def test_a_value_made_from_a_file_changed_since_the_listing_is_not_remembered(tmp_path, monkeypatch):
    """Within a run a clean file keys by the blob id the listing gave it, unchecked; a value
    computed from it (a miss) is remembered only when the file has not changed since the listing,
    and a value computed from a value not remembered is not remembered either."""
    from t4tasks.catalog import discovery

    from tests.support import git_init, write

    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "repo"
    write(root / "steady.md", "steady\n")
    write(root / "edited.md", "before\n")
    git_init(root)
    (root / ".t4" / "memo").mkdir(parents=True)
    time.sleep(digests.GIT_MARGIN_SECONDS + 0.25)    # both files older than the listing
    listing = discovery.list_files(root)
    monkeypatch.setattr(digests, "_cache", digests.DigestCache())
    digests.use_git(root, listing.clean_blobs, listing.listed_at)
    (root / "edited.md").write_text("after!\n")      # edited after git looked
    computed: list[str] = []

    def read(relpath: str) -> str:
        computed.append(relpath)
        return (root / relpath).read_text()

    def get(remembered: memo.Memo, relpath: str) -> str:
        return remembered.get(lambda: memo.key("doc", memo.file_part(root, relpath)), lambda: read(relpath))

    store = root / ".t4" / "memo" / "m.json"
    with digests.run_scope():
        remembered = memo.Memo(store)
        assert get(remembered, "steady.md") == "steady\n"
        assert get(remembered, "edited.md") == "after!\n"   # the file as it is: nothing to hide
        outer = remembered.get("both", lambda: get(remembered, "steady.md") + get(remembered, "edited.md"))
        assert outer == "steady\nafter!\n"
        remembered.save()
        again = memo.Memo(store)
        computed.clear()
        assert get(again, "steady.md") == "steady\n" and computed == []         # remembered
        assert get(again, "edited.md") == "after!\n" and computed == ["edited.md"]  # not: read again
        assert again.get("both", lambda: "computed again") == "computed again"   # nor what used it
