"""Jinja2 templates: the target repository's ``templates/`` first (users customise), then T4's.

T4's own templates live in the top-level ``templates/`` folder of its source tree, which the wheel
ships as ``t4tasks/templates``; both places are looked up so an editable install and a wheel
behave the same.
"""

from __future__ import annotations

import functools
from pathlib import Path


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


def environment(root: Path):
    import jinja2  # imported on first use: start-up time matters for every t4 run

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(root / "templates"), str(packaged_dir())]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["cell"] = markdown_cell
    return env


def markdown_cell(value: object) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, newlines folded."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace("|", "\\|")
