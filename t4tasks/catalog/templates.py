"""Jinja2 templates: the target repository's ``templates/`` first (users customise), then T4's."""
# T4's own templates live in the top-level ``templates/`` folder of its source tree, which the
# wheel ships as ``t4tasks/templates``; both places are looked up so an editable install and a
# wheel behave the same.

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any


@functools.cache
def packaged_dir() -> Path:
    package = Path(__file__).parents[1]
    inside = package / "templates"  # the wheel's package data
    return inside if inside.is_dir() else package.parent / "templates"  # a source checkout


def locate(root: Path, name: str) -> tuple[Path, bool]:
    """The template file to use and whether it is the repository's own override."""
    local = root / "templates" / name
    if local.is_file():
        return local, True
    packaged = packaged_dir() / name
    if not packaged.is_file():
        raise FileNotFoundError(f"template {name!r} not found in {root / 'templates'} or {packaged_dir()}")
    return packaged, False


def environment(root: Path, language: str = "markdown"):
    """A sandboxed environment whose every ``{{ value }}`` is text of ``language`` ("markdown", "python")."""
    # sandboxed: a repository's template is data too, and may not reach Python
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # imported on first use: start-up time matters

    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader([str(root / "templates"), str(packaged_dir())]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        finalize=python_text if language == "python" else markdown_text,
    )
    env.filters["cell"] = markdown_cell
    env.filters["yaml"] = yaml_scalar
    env.filters["code"] = code_text
    return env


def sandboxed(**options: Any):
    """A sandboxed jinja2 environment with these options (the dashboard's and CI's templates)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(**options)


def markdown_text(value: object) -> str:
    """A value as one line of inert Markdown: no HTML, no link, no heading or list marker."""
    if isinstance(value, _markup()):  # made safe by a filter (cell, yaml, tojson, code)
        return value
    text = "" if value is None else str(value)
    if not _MARKDOWN_SPECIAL.search(text) and text[:1] not in _BLOCK_MARKERS:
        return text  # the common case, a plain word or sentence: nothing to fold or escape
    text = " ".join(text.split()).replace("\\", "\\\\")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("[", "\\[").replace("]", "\\]")
    return "\\" + text if text[:1] in _BLOCK_MARKERS else text


def python_text(value: object) -> str:
    """A value as one line inside a Python docstring or comment: it cannot close the string."""
    if isinstance(value, _markup()):
        return value
    text = " ".join(("" if value is None else str(value)).split())
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")


def markdown_cell(value: object):
    """Text safe inside a Markdown table cell: pipes escaped, newlines folded."""
    text = markdown_text(value)
    return _markup()(text.replace("|", "\\|"))


def code_text(value: object):
    """One line of source code for a code span or block, as it is (code has no Markdown)."""
    return _markup()(" ".join(("" if value is None else str(value)).split()))


def yaml_scalar(value: object):
    """A YAML double-quoted scalar (a JSON string is one): nothing in it can start a new key."""
    return _markup()(json.dumps("" if value is None else str(value)))


@functools.cache
def _markup():
    from markupsafe import Markup  # jinja2's own dependency

    return Markup


_BLOCK_MARKERS = frozenset("#>-+*=!`~")
_MARKDOWN_SPECIAL = re.compile(r"[&<>\[\]\\]|\s\s|[^\S ]")  # what markdown_text changes, but a leading marker  # a line starting with one may not be a paragraph
