"""``t4tasks.speed.digests`` and the git listing it trusts: digests that are right without reading.

Two memories spare reading a file: (mtime, size, inode) → sha256 in the store, trusted only once
the file is older than ``RACY_SECONDS``, and git blob id → sha256, trusted only for files git
listed as clean and whose ctime is older than the listing. Tests that claim "no read" replace
``hashes_of`` with a function that fails, so a read makes the test fail; tests that claim "read"
check the digest of the new content, which no memory holds.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import types

import orjson
import pytest

from t4tasks.catalog import discovery
from t4tasks.speed import digests
from t4tasks.speed.digests import DigestCache

from tests.support import git, git_init, write


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(data: bytes) -> str:
    """The content id of ``data``: its git blob id (``git hash-object``)."""
    return "git:" + hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def age(path, seconds: float = 60) -> None:
    """Make a file's mtime ``seconds`` old (its ctime stays now: only mtime can be set)."""
    old = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(old, old))


def forbid_reading(monkeypatch) -> None:
    def read(path):
        raise AssertionError(f"{path} was read")
    monkeypatch.setattr(digests, "hashes_of", read)


def count_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    real = digests.hashes_of

    def read(path):
        reads.append(str(path))
        return real(path)
    monkeypatch.setattr(digests, "hashes_of", read)
    return reads


def settle() -> None:
    """Wait until files written now are older than a listing taken next by more than git's margin.

    ``use_git`` trusts a blob id only for a file whose ctime is older than the listing minus
    GIT_MARGIN_SECONDS (a file changed around the time git looked may differ from what git
    saw). A file's ctime cannot be set back, so a test that needs a trusted blob id waits
    for the margin, as a real run sees it when files were checked out a moment before."""
    time.sleep(digests.GIT_MARGIN_SECONDS + 0.25)


@pytest.fixture(autouse=True)
def store_from_the_first_digest(monkeypatch):
    """These tests are about the store: use it from the first digest, not after ``READ_FILES``
    direct reads (the one test about those reads sets its own budget)."""
    monkeypatch.setattr(digests, "READ_FILES", 0)


def test_a_run_that_needs_few_digests_reads_the_files_and_leaves_the_store_alone(tmp_path, monkeypatch):
    # loading and saving the store costs a tenth of a second at 10,000 modules: a one-manifest
    # change needs the digests of a few files only
    monkeypatch.setattr(digests, "READ_FILES", 2)
    monkeypatch.setattr(digests, "READ_BYTES", 100)
    store = tmp_path / "state" / "digests.json"
    store.parent.mkdir()
    store.write_bytes(orjson.dumps({"files": {}, "blobs": {}}))
    before = store.read_bytes()
    small, other, third = (write(tmp_path / name, name.encode() * 2) for name in ("a.py", "b.py", "c.py"))
    big = write(tmp_path / "big.json", b"x" * 101)
    for path in (small, other, third, big):
        age(path)

    cache = DigestCache(store)
    assert [cache.digest(str(p)) for p in (small, other)] == [sha(b"a.pya.py"), sha(b"b.pyb.py")]
    cache.save()
    assert store.read_bytes() == before  # neither loaded nor written
    assert cache.digest(str(third)) == sha(b"c.pyc.py")  # a third file: the store is loaded
    cache.save()
    assert list(orjson.loads(store.read_bytes())["files"]) == [str(third)]

    cache = DigestCache(store)
    assert cache.digest(str(big)) == sha(b"x" * 101)  # more bytes than the budget: loaded at once
    cache.save()
    assert sorted(orjson.loads(store.read_bytes())["files"]) == sorted([str(third), str(big)])


# ---------------------------------------------------------------------------------------------
# by file: (mtime, size, inode) in the store


def test_digest_is_the_sha256_of_the_file(tmp_path):
    path = write(tmp_path / "a.txt", b"some bytes\n" * 1000)
    cache = DigestCache()
    assert cache.digest(str(path)) == sha(path.read_bytes())
    assert cache.content_id(str(path)) == blob(path.read_bytes())   # outside git: the sha256 too


def test_a_second_cache_trusts_an_old_file_from_the_store_without_reading_it(tmp_path, monkeypatch):
    store = tmp_path / "state" / "digests.json"
    store.parent.mkdir()
    path = write(tmp_path / "old.txt", b"settled content\n")
    age(path)
    first = DigestCache(store)
    assert first.digest(str(path)) == sha(b"settled content\n")
    first.save()
    assert store.is_file()

    forbid_reading(monkeypatch)
    second = DigestCache(store)     # the next run: a new process, the same store
    assert second.digest(str(path)) == sha(b"settled content\n")


def test_a_changed_file_is_read_again_despite_the_store(tmp_path, monkeypatch):
    store = tmp_path / "digests.json"
    path = write(tmp_path / "doc.md", b"# Old\n")
    age(path)
    first = DigestCache(store)
    first.digest(str(path))
    first.save()
    path.write_bytes(b"# New\n")       # same size; the mtime moves
    reads = count_reads(monkeypatch)
    assert DigestCache(store).digest(str(path)) == sha(b"# New\n")
    assert reads == [str(path)]


def test_a_racily_recent_file_is_read_again_and_the_store_not_rewritten(tmp_path, monkeypatch):
    """A file written less than RACY_SECONDS before it was recorded could still change within the
    same clock tick without changing its mtime: its stored digest is not trusted."""
    store = tmp_path / "digests.json"
    path = write(tmp_path / "fresh.txt", b"just written\n")   # mtime: now
    first = DigestCache(store)
    first.digest(str(path))
    first.save()
    old = time.time_ns() - 60 * 10**9
    os.utime(store, ns=(old, old))
    stored = store.read_bytes()

    reads = count_reads(monkeypatch)
    second = DigestCache(store)
    assert second.digest(str(path)) == sha(b"just written\n")
    assert reads == [str(path)]           # read again: the entry was racy
    # re-read with the same content: not rewritten (an up-to-date run writes nothing)
    second.save()
    assert store.read_bytes() == stored and os.stat(store).st_mtime_ns == old


# ---------------------------------------------------------------------------------------------
# by git blob: clean tracked files, across clones


def small_repo(root):
    write(root / "pkg" / "__init__.py", '"""A package."""\n')
    write(root / "pkg" / "README.md", "# Pkg\n\nSome words.\n")
    write(root / "other.txt", "other\n")
    return git_init(root)


def test_list_files_keeps_modified_untracked_and_deleted_files_out_of_clean_blobs(no_outer_git):
    root = small_repo(no_outer_git / "repo")
    write(root / ".gitignore", "*.log\n")
    git(root, "add", ".gitignore")
    git(root, "commit", "-q", "-m", "ignore logs")
    (root / "pkg" / "README.md").write_text("# Pkg\n\nEdited.\n")      # modified, not staged
    write(root / "new.txt", "untracked\n")                               # untracked
    write(root / "debug.log", "ignored\n")                               # ignored
    (root / "other.txt").unlink()                                        # deleted, still in the index

    listing = discovery.list_files(root)
    assert listing.is_git
    assert "pkg/README.md" in listing.tracked and "pkg/README.md" not in listing.clean_blobs
    assert listing.untracked == ("new.txt",) and "new.txt" not in listing.clean_blobs
    assert "other.txt" not in listing.tracked and "other.txt" not in listing.file_set
    assert "other.txt" not in listing.clean_blobs
    assert "debug.log" not in listing.file_set
    # the clean files' blob ids are git's own (the id of their content)
    assert set(listing.clean_blobs) == {".gitignore", "pkg/__init__.py"}
    for relpath, blob in listing.clean_blobs.items():
        assert blob == git(root, "hash-object", relpath).strip()
    assert listing.listed_at <= time.time()


def test_files_git_is_told_not_to_look_at_are_never_clean(no_outer_git):
    # git does not compare assume-unchanged or skip-worktree files with the index, so an edit of
    # one is invisible to `git ls-files --modified`: its blob id must not stand for its content
    root = small_repo(no_outer_git / "repo")
    git(root, "update-index", "--assume-unchanged", "pkg/README.md")
    git(root, "update-index", "--skip-worktree", "other.txt")
    (root / "pkg" / "README.md").write_text("# Pkg\n\nEdited behind git's back.\n")
    listing = discovery.list_files(root)
    assert "pkg/README.md" not in listing.clean_blobs and "other.txt" not in listing.clean_blobs
    assert "pkg/__init__.py" in listing.clean_blobs
    settle()
    cache = digests.DigestCache()
    cache.use_git(root, listing.clean_blobs, time.time())
    assert cache.content_id(str(root / "pkg" / "README.md")) == blob(b"# Pkg\n\nEdited behind git's back.\n")


def test_a_blob_learned_in_one_clone_gives_the_digest_in_a_fresh_clone(no_outer_git, monkeypatch):
    """The cross-clone property: blob id → sha256 holds in any clone, so a fresh clone (new paths,
    inodes and mtimes) with a restored state folder reads no file that git says is clean."""
    root = small_repo(no_outer_git / "repo")
    clone = no_outer_git / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True, capture_output=True,
                   env={**os.environ, "GIT_CEILING_DIRECTORIES": str(no_outer_git)})
    store = no_outer_git / "state" / "digests.json"
    store.parent.mkdir()
    settle()   # both checkouts were written just now (see settle)

    listing = discovery.list_files(root)
    first = DigestCache(store)
    first.use_git(root, listing.clean_blobs, listing.listed_at)
    readme = b"# Pkg\n\nSome words.\n"
    assert first.content_id(str(root / "pkg" / "README.md")) == "git:" + listing.clean_blobs["pkg/README.md"]
    assert first.digest(str(root / "pkg" / "README.md")) == sha(readme)   # learns blob → sha256
    first.save()
    assert orjson.loads(store.read_bytes())["blobs"] == {listing.clean_blobs["pkg/README.md"]: sha(readme)}

    forbid_reading(monkeypatch)
    cloned = discovery.list_files(clone)
    assert cloned.clean_blobs["pkg/README.md"] == listing.clean_blobs["pkg/README.md"]
    second = DigestCache(store)
    second.use_git(clone, cloned.clean_blobs, cloned.listed_at)
    assert second.digest(str(clone / "pkg" / "README.md")) == sha(readme)
    # a file whose blob was never learned must be read: the "no read" above is the blob map's doing
    with pytest.raises(AssertionError, match="was read"):
        second.digest(str(clone / "pkg" / "__init__.py"))


def test_a_file_changed_after_the_listing_is_read_not_taken_from_its_blob(no_outer_git, monkeypatch):
    root = small_repo(no_outer_git / "repo")
    store = no_outer_git / "digests.json"
    readme = root / "pkg" / "README.md"
    settle()
    listing = discovery.list_files(root)
    learner = DigestCache(store)
    learner.use_git(root, listing.clean_blobs, listing.listed_at)
    assert learner.digest(str(readme)) == sha(b"# Pkg\n\nSome words.\n")
    learner.save()

    # edited after git looked: the listing still calls it clean, with its old blob id, but its
    # ctime is newer than the listing, so the blob id is not trusted
    readme.write_bytes(b"# Pkg\n\nOther words\n")     # same size
    age(readme)                                      # even an old mtime does not hide it
    reads = count_reads(monkeypatch)
    cache = DigestCache(store)
    cache.use_git(root, listing.clean_blobs, listing.listed_at)
    assert cache.digest(str(readme)) == sha(b"# Pkg\n\nOther words\n")
    assert reads == [str(readme)]
    assert cache.content_id(str(readme)) == blob(b"# Pkg\n\nOther words\n")


def test_content_id_is_the_listed_blob_for_a_clean_file_and_a_computed_one_for_others(no_outer_git, monkeypatch):
    root = small_repo(no_outer_git / "repo")
    write(root / "pkg" / "extra.md", "untracked\n")
    (root / "other.txt").write_text("changed\n")
    settle()
    listing = discovery.list_files(root)
    cache = DigestCache()
    cache.use_git(root, listing.clean_blobs, listing.listed_at)

    reads = count_reads(monkeypatch)
    clean = cache.content_id(str(root / "pkg" / "__init__.py"))
    assert clean == "git:" + git(root, "hash-object", "pkg/__init__.py").strip()
    assert reads == []                                   # a clean file's id costs no read
    assert cache.content_id(str(root / "other.txt")) == blob(b"changed\n")
    assert cache.content_id(str(root / "pkg" / "extra.md")) == blob(b"untracked\n")
    # ids change with the content, whichever kind they are
    assert clean != cache.content_id(str(root / "pkg" / "README.md"))


def test_a_whole_second_ctime_needs_the_wider_margin(tmp_path):
    # on a filesystem that counts seconds, a file changed just after the listing can carry a
    # ctime up to a second before it: such a file is trusted only well before the listing
    cache = digests.DigestCache()
    cache.use_git(tmp_path, {"f.py": "b" * 40}, 1_000_000.5)
    path = str(tmp_path / "f.py")

    def stat(ctime_ns: int):
        return types.SimpleNamespace(st_ctime_ns=ctime_ns, st_ctime=ctime_ns / 1e9)

    assert cache._blob_of(path, stat(999_999_900_000_000)) == "b" * 40     # 0.6 s before, fractional
    assert cache._blob_of(path, stat(1_000_000_000_000_000)) is None       # 0.5 s before, whole second
    assert cache._blob_of(path, stat(999_998_000_000_000)) == "b" * 40     # 2.5 s before, whole second
    assert cache._blob_of(path, stat(1_000_000_480_000_000)) is None       # 20 ms before the listing


# ---------------------------------------------------------------------------------------------
# within a run: one stat per file, and never an id T4 itself made stale


def test_a_run_sees_every_file_t4_writes_during_it(tmp_path):
    from t4tasks.speed import atomic

    path = write(tmp_path / "generated.json", b"before\n")
    with digests.run_scope():
        assert digests.content_id(path) == blob(b"before\n")
        atomic.write_bytes(path, b"after, and longer\n")
        assert digests.content_id(path) == blob(b"after, and longer\n")
        assert digests.digest(path) == sha(b"after, and longer\n")


def test_a_file_changed_by_someone_else_is_seen_once_the_task_ends(tmp_path):
    path = write(tmp_path / "README.md", b"first\n")
    with digests.run_scope():
        assert digests.content_id(path) == blob(b"first\n")
        write(path, b"second, edited in an editor\n")
        digests.forget()  # what the reporter does when a task's action ends
        assert digests.content_id(path) == blob(b"second, edited in an editor\n")


def test_outside_a_run_nothing_is_remembered(tmp_path):
    path = write(tmp_path / "README.md", b"first\n")
    assert digests.content_id(path) == blob(b"first\n")
    write(path, b"second, same process\n")
    assert digests.content_id(path) == blob(b"second, same process\n")


# ---------------------------------------------------------------------------------------------
# a run judges the listing: clean files key by their listed blob, without a stat


def test_within_a_run_a_clean_file_keys_by_its_listed_blob_until_t4_writes_it(no_outer_git, monkeypatch):
    from t4tasks.speed import atomic

    root = small_repo(no_outer_git / "repo")
    listing = discovery.list_files(root)   # no settle(): within a run the listing is trusted as is
    monkeypatch.setattr(digests, "_cache", DigestCache())
    digests.use_git(root, listing.clean_blobs, listing.listed_at)
    readme = root / "pkg" / "README.md"
    listed = "git:" + listing.clean_blobs["pkg/README.md"]
    with digests.run_scope():
        with monkeypatch.context() as patched:
            forbid_reading(patched)
            patched.setattr(os, "stat", lambda *a, **k: pytest.fail("a clean file was stat'ed"))
            assert digests.content_id(str(readme)) == listed
            assert digests.content_ids(root, ["pkg/README.md", "pkg/__init__.py"]) == [
                listed, "git:" + listing.clean_blobs["pkg/__init__.py"]]
        # edited after git looked: the run goes on judging what git listed (the next run lists it
        # as modified) ...
        readme.write_bytes(b"# Pkg\n\nEdited during the run.\n")
        assert digests.content_id(str(readme)) == listed
        # ... but a file T4 writes itself is seen as it is now
        atomic.write_bytes(readme, b"# Pkg\n\nWritten by T4.\n")
        assert digests.content_id(str(readme)) == blob(b"# Pkg\n\nWritten by T4.\n")
        assert digests.content_ids(root, ["pkg/README.md"]) == [blob(b"# Pkg\n\nWritten by T4.\n")]
        assert digests.content_ids(root, ["missing.md"]) == [None]


def test_a_store_chosen_within_a_run_keeps_the_runs_memory(no_outer_git, monkeypatch):
    # t4 points the store into the state folder while it makes the plan, inside the run: the plan's
    # keys take clean files' ids from the listing, as the rest of the run does
    root = small_repo(no_outer_git / "repo")
    listing = discovery.list_files(root)
    monkeypatch.setattr(digests, "_cache", DigestCache())
    digests.use_git(root, listing.clean_blobs, listing.listed_at)
    with digests.run_scope():
        digests.use_store(no_outer_git / "state" / "digests.json")
        with monkeypatch.context() as patched:
            patched.setattr(os, "stat", lambda *a, **k: pytest.fail("a clean file was stat'ed"))
            assert digests.content_ids(root, ["pkg/README.md"]) == ["git:" + listing.clean_blobs["pkg/README.md"]]


def test_a_content_id_stays_the_same_when_the_file_is_committed(no_outer_git, monkeypatch):
    root = small_repo(no_outer_git / "repo")
    (root / "pkg" / "README.md").write_text("# Pkg\n\nEdited, then committed.\n")
    write(root / "pkg" / "new.py", "x = 1\n")

    def ids() -> list[str]:
        listing = discovery.list_files(root)
        monkeypatch.setattr(digests, "_cache", DigestCache())
        digests.use_git(root, listing.clean_blobs, listing.listed_at)
        with digests.run_scope():
            return digests.content_ids(root, ["pkg/README.md", "pkg/new.py", "other.txt"])

    before = ids()                                    # modified and untracked: computed
    git(root, "add", "-A")
    staged = ids()                                    # staged: the index names them now
    git(root, "commit", "-q", "-m", "edit")
    assert before == staged == ids()                  # committed: the listing's blob ids
    assert before[:2] == [blob(b"# Pkg\n\nEdited, then committed.\n"), blob(b"x = 1\n")]
