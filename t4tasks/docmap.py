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


SUMMARIES_NAME = "MODULE_SUMMARIES.json"


def context(registry: dict, generated_dir: str, summaries: dict | None = None) -> dict:
    extra = (summaries or {}).get("modules", {})
    modules = []
    for m in registry["modules"]:
        info = {} if m.get("duplicate_of") else extra.get(m["name"], {})
        readme = next((d for d in m["docs"] if posixpath.basename(d).lower() == "readme.md"
                       and posixpath.dirname(d) == ("" if m["path"] == "." else m["path"])), None)
        modules.append({
            **m,
            "link": _link(readme or m["manifest"], generated_dir),
            "summary": info.get("summary", ""),
            "see_also": info.get("see_also", []),
            "docs": [{"title": posixpath.relpath(d, m["path"]) if m["path"] != "." else d,
                      "link": _link(d, generated_dir)} for d in m["docs"]],
        })
    lanes: dict[str, list[dict]] = {}
    for m in modules:
        lanes.setdefault(m["lane"] or "No lane", []).append(m)
    return {"modules": modules, "lanes": sorted(lanes.items())}


def render_texts(root: Path, registry: dict, generated_dir: str, summaries: dict | None = None) -> dict[str, str]:
    """The two documents' text, keyed by file name (links relative to ``generated_dir``)."""
    env = templates.environment(root)
    ctx = context(registry, generated_dir, summaries)
    return {output: env.get_template(template).render(**ctx) for output, template in OUTPUTS.items()}


def render(root: Path, registry_path: Path, generated_dir: str, summaries_path: Path | None = None) -> list[str]:
    """Write both files; return the ones whose content changed."""
    registry = orjson.loads(registry_path.read_bytes())
    summaries = orjson.loads(summaries_path.read_bytes()) if summaries_path else None
    texts = render_texts(root, registry, generated_dir, summaries)
    return [name for name, text in texts.items() if atomic.write_text(root / generated_dir / name, text)]
