"""T4's one rule for module names: what a name may hold before it becomes a task, a file or text."""
# A name reaches task names (``coverage:<name>``), file names
# (``.t4/results/coverage/<name>.json``, ``<badges>/<name>/coverage.svg``), Markdown, Python and
# YAML. The schema's pattern (an importable dotted name) is the convention, and a violation is only
# a schema problem because real manifests use hyphens; the rule here is the hard floor: a name that
# breaks it is unusable (no tasks, no result files, no badges).

from __future__ import annotations

import re
import unicodedata

# 128 UTF-8 bytes: the longest file T4 derives from a name is its atomic-write temporary,
# ".<name>.json.<8 random>.tmp" (name + 19 bytes), which must stay under the 255-byte NAME_MAX of
# common file systems; a name 4 times longer than any real one (the lukhas fixture's longest is 30)
# still fits twice over
MAX_BYTES = 128
# the schema's convention: an importable dotted Python name, ASCII only (new_module enforces it)
SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_FORBIDDEN = {"/": "a path separator '/'", "\\": "a path separator '\\'", ":": "a ':' (a drive or task separator)",
              "=": "an '='"}


def problem(name: object) -> str | None:
    """Why ``name`` cannot be a module name, or None when it can."""
    if not isinstance(name, str) or not name.strip():
        return "missing module name (a string, or an object with 'name')"
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return f"module name {_shown(name)} holds the control character U+{ord(char):04X}"
        if char in _FORBIDDEN:
            return f"module name {_shown(name)} holds {_FORBIDDEN[char]}"
    if name != name.strip():
        return f"module name {_shown(name)} starts or ends with white space"
    if name.startswith(".") or ".." in name:
        return f"module name {_shown(name)} starts with '.' or holds '..'"
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        return f"module name {_shown(name)} is {size} bytes long (at most {MAX_BYTES})"
    return None


def schema_problem(name: str) -> str | None:
    """Why ``name`` breaks the schema's convention (what ``new_module`` accepts), or None."""
    if SCHEMA_NAME.fullmatch(name) and problem(name) is None:
        return None
    return (problem(name) or f"module name {_shown(name)} is not a valid Python identifier (the schema "
            "wants an importable dotted name: ASCII letters, digits and '_' in each part)")


def _shown(name: str) -> str:
    """The name as a one-line, bounded literal for messages."""
    text = ascii(name)
    return text if len(text) <= 60 else text[:50] + "...'"
