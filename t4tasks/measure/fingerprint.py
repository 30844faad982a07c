"""Environment fingerprint: which benchmark results may be compared with each other."""
# A timing only means something next to the machine and software that produced it: a faster CPU, a
# new kernel or a numpy upgrade moves every number. Regression checks therefore compare only
# results whose fingerprints match. The fingerprint is a sha256 over a small set of facts, and the
# facts are kept next to it so a human can see *why* two fingerprints differ.
#
# Facts are chosen to be stable for one machine and software set: nothing that changes from run to
# run (load, free memory, CPU frequency, hostname of an ephemeral CI runner) is included.

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

import orjson

# Packages whose versions change the measured timings or the way they are measured.
MEASURING_PACKAGES = ("numpy", "pytest", "pytest-benchmark")


def cpu_model() -> str:
    """The CPU model name; /proc/cpuinfo on Linux, ``platform`` elsewhere."""
    # ``platform.processor()`` is often empty or just "x86_64" on Linux: the kernel's description wins.
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        # x86 spells it "model name"; many ARM kernels only give "Hardware" or "Model".
        if key.strip() in ("model name", "Hardware", "Model") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def package_versions(distribution: str | None = None) -> dict[str, str | None]:
    """Installed versions of the measuring packages (and ``distribution``); None when absent."""
    from importlib import metadata  # on first use only: it costs start-up time

    names = [*MEASURING_PACKAGES, *([distribution] if distribution else [])]
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment(distribution: str | None = None) -> dict:
    """``{"fingerprint": sha256 hex, "facts": {...}}`` for this machine and interpreter."""
    facts = {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "os": platform.system(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(),
        # ``distribution``: the module's own installed distribution, when it has one; a new release of
        # the code under test is a different environment for its benchmarks' history
        "packages": package_versions(distribution),
    }
    canonical = orjson.dumps(facts, option=orjson.OPT_SORT_KEYS)
    return {"fingerprint": hashlib.sha256(canonical).hexdigest(), "facts": facts}
