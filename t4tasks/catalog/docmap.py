"""``DOCUMENTATION_MAP.md`` and ``MODULE_INDEX.md``, rendered from the registry with jinja2."""
# Links are relative to the folder the files live in, so they work on GitHub and in a checkout.

from __future__ import annotations

import posixpath
from pathlib import Path

import orjson

from t4tasks.catalog import registry as registry_doc, templates
from t4tasks.catalog.project import Project
from t4tasks.speed import forked

OUTPUTS = {"MODULE_INDEX.md": "docmap/MODULE_INDEX.md.j2",
           "DOCUMENTATION_MAP.md": "docmap/DOCUMENTATION_MAP.md.j2"}


def _link(target: str, from_dir: str) -> str:
    """``posixpath.relpath`` for two normalised repo-relative paths, without its two ``getcwd`` calls."""
    # A large map makes many links (see docs/PERFORMANCE.md).
    parts = [] if target in ("", ".") else target.split("/")
    base = [] if from_dir in ("", ".") else from_dir.split("/")
    common = 0
    while common < min(len(parts), len(base)) and parts[common] == base[common]:
        common += 1
    return "/".join([".."] * (len(base) - common) + parts[common:]) or "."


SUMMARIES_NAME = "MODULE_SUMMARIES.json"


def read_summaries(folder: Path) -> dict | None:
    """The summaries the maps show: MODULE_SUMMARIES.json in ``folder`` as the summaries task wrote it."""
    # The docmap task depends on this file: reading it is far cheaper than building it (see docs/PERFORMANCE.md).
    try:
        data = orjson.loads((folder / SUMMARIES_NAME).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None  # missing or unreadable: validate reports that file
    return data if isinstance(data, dict) and isinstance(data.get("modules"), dict) else None


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
            "docs": [{"title": _link(d, m["path"]),
                      "link": _link(d, generated_dir)} for d in m["docs"]],
        })
    lanes: dict[str, list[dict]] = {}
    for m in modules:
        lanes.setdefault(m["lane"] or "No lane", []).append(m)
    return {"modules": modules, "lanes": sorted(lanes.items())}


def texts_of(project: Project) -> dict[str, str]:
    """DOCUMENTATION_MAP.md and MODULE_INDEX.md as rendered from this registry, once per process."""
    def make() -> dict[str, str]:
        folder = project.config.generated_dir
        # and from the summaries file; the docmap task writes them, validate compares with them
        return render_texts(project.root, registry_doc.of(project), folder, read_summaries(project.root / folder))

    return project.remember(("docmap texts",), make)


def render_texts(root: Path, registry: dict, generated_dir: str, summaries: dict | None = None) -> dict[str, str]:
    """The two documents' text, keyed by file name (links relative to ``generated_dir``)."""
    env = templates.environment(root)
    ctx = context(registry, generated_dir, summaries)
    (first, first_template), (second, second_template) = OUTPUTS.items()
    # the two renders cost about the same on a large repository: one in a child meanwhile
    with forked.start(lambda: env.get_template(second_template).render(**ctx)) as child:
        return {first: env.get_template(first_template).render(**ctx), second: child.result()}
