"""The environment fingerprint: deterministic, explained by its facts, sensitive to what matters."""

from __future__ import annotations

import hashlib
import platform

import orjson

from t4tasks.measure import fingerprint


def test_fingerprint_is_deterministic_and_hashes_its_facts():
    first, second = fingerprint.environment(), fingerprint.environment()
    assert first == second
    assert len(first["fingerprint"]) == 64 and int(first["fingerprint"], 16) >= 0
    canonical = orjson.dumps(first["facts"], option=orjson.OPT_SORT_KEYS)
    assert first["fingerprint"] == hashlib.sha256(canonical).hexdigest()


def test_facts_name_machine_interpreter_and_measuring_packages():
    facts = fingerprint.environment()["facts"]
    assert facts["cpu_model"] and facts["cpu_count"] >= 1
    assert facts["os"] == platform.system() and facts["kernel"] == platform.release()
    assert facts["machine"] == platform.machine()
    assert facts["python_implementation"] == platform.python_implementation()
    assert facts["python_version"] == platform.python_version()
    assert set(facts["packages"]) == {"numpy", "pytest", "pytest-benchmark"}
    assert all(facts["packages"].values())


def test_module_distribution_is_part_of_the_fingerprint():
    bare = fingerprint.environment()
    with_dist = fingerprint.environment("orjson")
    missing = fingerprint.environment("no-such-distribution-t4")
    assert with_dist["facts"]["packages"]["orjson"]
    assert missing["facts"]["packages"]["no-such-distribution-t4"] is None
    assert len({bare["fingerprint"], with_dist["fingerprint"], missing["fingerprint"]}) == 3


def test_a_kernel_update_changes_the_fingerprint(monkeypatch):
    before = fingerprint.environment()
    monkeypatch.setattr(platform, "release", lambda: "0.0.0-other")
    after = fingerprint.environment()
    assert after["fingerprint"] != before["fingerprint"]
    assert after["facts"]["kernel"] == "0.0.0-other"
