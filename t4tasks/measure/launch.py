"""How a measurement starts pytest: the repository importable, but after the standard library."""
# ``python -m pytest`` puts the working directory (the repository root) first on ``sys.path``, so a
# top-level folder named like a standard-library module (``html``, ``email``, ``test``) would
# replace that module for every other module's tests. ``-P`` leaves the root out; the boot line
# puts it back in front of site-packages, after the standard library.

from __future__ import annotations

import sys
from pathlib import Path

_BOOT = (
    "import sys\n"
    "root = sys.argv.pop(1)\n"
    "at = next((i for i, p in enumerate(sys.path) if p.endswith(('site-packages', 'dist-packages'))), len(sys.path))\n"
    "sys.path.insert(at, root)\n"
    "sys.argv[0] = 'pytest'\n"
    "import pytest\n"
    "raise SystemExit(pytest.main())\n"  # console_main is deprecated since pytest 9.2
)


def pytest_command(root: Path) -> list[str]:
    """The start of a pytest command line run from ``root`` (arguments follow)."""
    return [sys.executable, "-P", "-c", _BOOT, str(root)]


def shadow_note(module_code_path: str) -> str | None:
    """Why a module named like a standard-library module cannot import itself by that name."""
    top = module_code_path.split("/", 1)[0]
    if top in sys.stdlib_module_names:
        return (f"note: {top!r} is also a standard-library module; measurements import the standard "
                f"library's {top!r} first, so that other modules' tests see the real one")
    return None
