"""DOCUMENTATION_MAP.md and MODULE_INDEX.md: links that resolve, cells that stay cells."""

from __future__ import annotations

import re

from t4tasks.catalog import docmap, templates

from tests.support import GENERATED, make_repo, manifest, run_t4

LINK = re.compile(r"\]\(([^)\s]+)\)")


def build(root):
    code, out, err = run_t4(root, "registry", "docmap")
    assert code == 0, err
    gen = root / GENERATED
    return (gen / "MODULE_INDEX.md").read_text(encoding="utf-8"), (gen / "DOCUMENTATION_MAP.md").read_text(encoding="utf-8")


def repo(tmp_path):
    return make_repo(tmp_path / "r", {
        "memory": manifest("memory", description="Stores things."),
        "pkg/deep/vision": manifest("vision"),
        ".": manifest("toplevel"),
        "nodocs": manifest("nodocs", matrix={"lane": "L4"}),
    }, files={
        "memory/README.md": "# memory\n", "memory/docs/design.md": "d", "memory/docs/sub/api.rst": "a",
        "pkg/deep/vision/claude.me": "c", "README.md": "# top\n", "docs/overview.md": "o",
        "memory/tests/test_m.py": "",
    })


def test_index_links_resolve_from_generated_dir(tmp_path):
    root = repo(tmp_path)
    index, docmap_md = build(root)
    gen = root / GENERATED
    for text in (index, docmap_md):
        links = LINK.findall(text)
        assert links, text
        for link in links:
            assert not link.startswith("/"), link
            assert (gen / link).resolve().is_file(), f"{link} does not resolve from {GENERATED}"
    # a module with a README links to it, one without links to its manifest
    assert "[memory](../../memory/README.md)" in index
    assert "[vision](../../pkg/deep/vision/module.manifest.json)" in index
    assert "[toplevel](../../README.md)" in index


def test_index_rows(tmp_path):
    root = repo(tmp_path)
    index, _ = build(root)
    rows = [line for line in index.splitlines() if line.startswith("| [")]
    assert [re.match(r"\| \[([^\]]+)\]", r).group(1) for r in rows] == ["memory", "nodocs", "toplevel", "vision"]
    assert "4 modules." in index
    memory = rows[0]
    assert memory.split(" | ")[1:] == ["L1", "—", "yes", "3", "—", "—", "Stores things. |"]


def test_documentation_map_groups_by_lane(tmp_path):
    root = repo(tmp_path)
    _, text = build(root)
    assert re.findall(r"^## (.+)$", text, re.M) == ["L1 (3)", "L4 (1)"]
    assert "- [docs/sub/api.rst](../../memory/docs/sub/api.rst)" in text
    assert "### [nodocs](../../nodocs/module.manifest.json)\n- _no documentation yet_" in text


def test_description_with_pipes_and_newlines_is_escaped(tmp_path):
    root = make_repo(tmp_path / "r", {
        "m": manifest("m", description="a | b\nsecond line\r\n| third\\", ownership={"team": "x|y"})})
    index, _ = build(root)
    [row] = [line for line in index.splitlines() if line.startswith("| [m]")]
    assert "a \\| b second line \\| third\\\\" in row
    assert "x\\|y" in row
    # an unescaped pipe would add cells: the row has exactly the header's 6 cells
    header = [line for line in index.splitlines() if line.startswith("| Module")][0]
    cells = lambda line: len(re.split(r"(?<!\\)\|", line)) - 2  # noqa: E731
    assert cells(row) == cells(header) == 8


def test_long_description_is_truncated(tmp_path):
    root = make_repo(tmp_path / "r", {"m": manifest("m", description="word " * 100)})
    index, _ = build(root)
    [row] = [line for line in index.splitlines() if line.startswith("| [m]")]
    description = row.rsplit(" | ", 1)[1]
    assert description.endswith("… |") and len(description) <= 165


def test_markdown_cell():
    assert templates.markdown_cell(None) == ""
    assert templates.markdown_cell("a|b\n c") == "a\\|b c"
    assert templates.markdown_cell("back\\slash") == "back\\\\slash"


def test_context_links_for_root_module():
    registry = {"modules": [{"name": "r", "path": ".", "manifest": "module.manifest.json", "lane": None,
                             "docs": ["README.md", "docs/x.md"]}]}
    ctx = docmap.context(registry, "docs/_generated")
    [m] = ctx["modules"]
    assert m["link"] == "../../README.md"
    assert m["docs"] == [{"title": "README.md", "link": "../../README.md"},
                         {"title": "docs/x.md", "link": "../x.md"}]
    assert ctx["lanes"][0][0] == "No lane"


def test_repository_template_override(tmp_path):
    root = make_repo(tmp_path / "r", {"m": manifest("m")},
                     files={"templates/docmap/MODULE_INDEX.md.j2": "custom {{ modules | length }}\n"})
    index, docmap_md = build(root)
    assert index == "custom 1\n"
    assert docmap_md.startswith("# Documentation map")
