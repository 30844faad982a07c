"""A pytest plugin that registers the marks smoke runs select: ``smoke`` and ``integration``."""
# Loaded with ``-p`` next to the host's own configuration, so a host running ``--strict-markers``
# accepts the marks T4's scaffolded tests carry without registering them itself.

from __future__ import annotations

MARKERS = ("smoke: fast checks run by t4 smoke", "integration: slow, cross-module tests (t4 tests_fast skips them)")


def pytest_configure(config) -> None:
    """Add the marks to whatever the host registered."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)
