"""``DOCUMENTATION_MAP.md`` and ``MODULE_INDEX.md``, rendered from the registry with jinja2.

Links are relative to the folder the files live in, so they work on GitHub and in a checkout.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import orjson

from . import atomic, templates

OUTPUTS = {"MODULE_INDEX.md": "docmap/MODULE_INDEX.md.j2",
           "DOCUMENTATION_MAP.md": "docmap/DOCUMENTATION_MAP.md.j2"}


def _link(target: str, from_dir: str) -> str:
    return posixpath.relpath(target, from_dir).replace(os.sep, "/")


def context(registry: dict, generated_dir: str) -> dict:
    modules = []
    for m in registry["modules"]:
        readme = next((d for d in m["docs"] if posixpath.basename(d).lower() == "readme.md"
                       and posixpath.dirname(d) == ("" if m["path"] == "." else m["path"])), None)
        modules.append({
            **m,
            "link": _link(readme or m["manifest"], generated_dir),
            "docs": [{"title": posixpath.relpath(d, m["path"]) if m["path"] != "." else d,
                      "link": _link(d, generated_dir)} for d in m["docs"]],
        })
    lanes: dict[str, list[dict]] = {}
    for m in modules:
        lanes.setdefault(m["lane"] or "No lane", []).append(m)
    return {"modules": modules, "lanes": sorted(lanes.items())}


def render_texts(root: Path, registry: dict, generated_dir: str) -> dict[str, str]:
    """The two documents' text, keyed by file name (links relative to ``generated_dir``)."""
    env = templates.environment(root)
    ctx = context(registry, generated_dir)
    return {output: env.get_template(template).render(**ctx) for output, template in OUTPUTS.items()}


def render(root: Path, registry_path: Path, generated_dir: str) -> list[str]:
    """Write both files; return the ones whose content changed."""
    registry = orjson.loads(registry_path.read_bytes())
    texts = render_texts(root, registry, generated_dir)
    return [name for name, text in texts.items() if atomic.write_text(root / generated_dir / name, text)]
