"""Badges: valid SVG, the right colour on each side of a threshold, unknown is grey (never 0),
deterministic bytes; the README badge block changes nothing else and is a dry-run by default."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from t4tasks.outputs import badges

SVG = "{http://www.w3.org/2000/svg}"


def module(name: str = "memory", coverage: float | None = 85.0, target: float | None = 80.0,
           health: float | None = 70.0, p95: float | None = 12.0, sla_p95: float | None = 20.0) -> dict:
    """A META_REGISTRY module entry, reduced to what badges read."""
    return {
        "name": name,
        "coverage": {"observed": coverage, "target": target},
        "health_score": health,
        "performance": {"p95_ms": p95, "sla": None if sla_p95 is None else {"p95_ms": sla_p95}},
    }


def parsed(kind: str, entry: dict) -> tuple[str, str, str]:
    """(label, value text, value colour) read back from the SVG with an XML parser."""
    root = ET.fromstring(badges.badge_svg(kind, entry).encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    fills = [p.get("fill") for p in root.iter(f"{SVG}path")]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    return texts[0], texts[-1], fills[1]  # paths: label background, value background, gradient


@pytest.mark.parametrize(("coverage", "target", "shown", "colour"), [
    (80.0, 80.0, "80%", badges.GREEN),
    (79.9, 80.0, "79.9%", badges.YELLOW),
    (70.0, 80.0, "70%", badges.YELLOW),
    (69.99, 80.0, "69.99%", badges.RED),
    (79.5, 79.5, "79.5%", badges.GREEN),     # a fractional target is not truncated
    (79.0, 79.5, "79%", badges.YELLOW),
    (0.0, 80.0, "0%", badges.RED),           # measured zero is a value, shown as such
    (80.0, None, "80%", badges.GREEN),       # no target: the default of 80
    (79.99, None, "79.99%", badges.YELLOW),
])
def test_coverage_colour_at_the_thresholds(coverage, target, shown, colour):
    assert parsed("coverage", module(coverage=coverage, target=target)) == ("coverage", shown, colour)


@pytest.mark.parametrize(("health", "shown", "colour"), [
    (100.0, "100", badges.GREEN), (80.0, "80", badges.GREEN), (79.99, "79.99", badges.YELLOW),
    (60.0, "60", badges.YELLOW), (59.9, "59.9", badges.ORANGE), (40.0, "40", badges.ORANGE),
    (39.9, "39.9", badges.RED), (0.0, "0", badges.RED),
])
def test_health_colour_at_the_thresholds(health, shown, colour):
    assert parsed("health", module(health=health)) == ("health", shown, colour)


@pytest.mark.parametrize(("p95", "sla", "shown", "colour"), [
    (20.0, 20.0, "20 ms", badges.GREEN),         # at the SLA: met
    (20.01, 20.0, "20 ms", badges.RED),          # just above: missed (shown rounded)
    (1.234, 5.0, "1.23 ms", badges.GREEN),
    (250.4, 250.0, "250 ms", badges.RED),
    (99.0, None, "99 ms", badges.BLUE),          # no target: informational
])
def test_p95_colour_at_the_sla(p95, sla, shown, colour):
    assert parsed("p95", module(p95=p95, sla_p95=sla)) == ("p95", shown, colour)


def test_unknown_is_a_grey_unknown_badge_not_zero():
    never = module(coverage=None, health=None, p95=None)
    for kind in badges.KINDS:
        label, value, colour = parsed(kind, never)
        assert (label, value, colour) == (kind, "unknown", badges.GREY)
    # a real META_REGISTRY entry of a never-measured module: coverage null, performance with nulls
    meta_entry = {"name": "vision", "coverage": {"observed": None, "target": 85.0, "status": "no_observation"},
                  "health_score": 20.0, "performance": {"p95_ms": None, "sla": {"p95_ms": 250.0}}}
    assert parsed("coverage", meta_entry)[1:] == ("unknown", badges.GREY)
    assert parsed("p95", meta_entry)[1:] == ("unknown", badges.GREY)


def test_render_writes_three_badges_per_module_and_reports_changes(tmp_path):
    meta = {"modules": [module("memory"), module("core.cache", coverage=None)]}
    changed = badges.render(meta, tmp_path)
    assert changed == badges.targets(["memory", "core.cache"]) == [
        "core.cache/coverage.svg", "core.cache/health.svg", "core.cache/p95.svg",
        "memory/coverage.svg", "memory/health.svg", "memory/p95.svg"]
    for relpath in changed:
        ET.parse(tmp_path / relpath)  # every file is well-formed XML
    assert badges.render(meta, tmp_path) == []  # same inputs: nothing rewritten
    meta["modules"][0]["coverage"]["observed"] = 60.0
    assert badges.render(meta, tmp_path) == ["memory/coverage.svg"]


def test_same_inputs_give_the_same_bytes_in_any_order(tmp_path):
    entries = [module(f"m{i}", coverage=50.0 + i) for i in range(5)]
    badges.render({"modules": entries}, tmp_path / "a")
    badges.render({"modules": list(reversed(entries))}, tmp_path / "b")  # anybadge's mask counter moved on
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.svg"))
    assert len(files) == 15
    for relpath in files:
        assert (tmp_path / "a" / relpath).read_bytes() == (tmp_path / "b" / relpath).read_bytes()
    masks = {ET.parse(tmp_path / "a" / f).getroot().find(f"{SVG}mask").get("id") for f in files}
    assert len(masks) == 15  # ids differ per badge, so badges can share one HTML page


# ---------------------------------------------------------------------------------------------
# README badge line

LINE = badges.markdown("memory", "../docs/_generated/badges")
README = """---
title: memory
---
# memory

Keeps things.

## Usage

Call it.
"""


def test_markdown_line_is_stable():
    assert LINE == ("![coverage](../docs/_generated/badges/memory/coverage.svg) "
                    "![health](../docs/_generated/badges/memory/health.svg) "
                    "![p95](../docs/_generated/badges/memory/p95.svg)")


def test_dry_run_writes_nothing_and_returns_the_diff(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(README, "utf-8")
    before = path.stat()
    changed, diff = badges.update_readme(path, LINE)
    assert changed is True
    assert f"+{LINE}" in diff and f"+{badges.START}" in diff and diff.startswith(f"--- a/{path}")
    assert path.read_text("utf-8") == README
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == (before.st_mtime_ns, before.st_ino)


def test_insert_after_the_title_keeps_front_matter_and_everything_else(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(README, "utf-8")
    assert badges.update_readme(path, LINE, apply=True)[0] is True
    text = path.read_text("utf-8")
    block = f"{badges.START}\n{LINE}\n{badges.END}\n"
    assert text == README.replace("# memory\n\n", f"# memory\n\n{block}\n", 1)
    assert badges.update_readme(path, LINE, apply=True) == (False, "")  # idempotent


def test_update_changes_only_the_marked_block(tmp_path):
    path = tmp_path / "README.md"
    old_block = f"{badges.START}\n![coverage](old.svg)\n{badges.END}"
    before, after = "# memory\r\n\r\nIntro <!-- keep -->\r\n\r\n", "\r\n\r\nBody with trailing spaces   \r\nno final newline"
    path.write_bytes((before + old_block.replace("\n", "\r\n") + after).encode("utf-8"))
    changed, diff = badges.update_readme(path, LINE, apply=True)
    assert changed and "-![coverage](old.svg)" in diff
    data = path.read_bytes().decode("utf-8")
    assert data == before + f"{badges.START}\r\n{LINE}\r\n{badges.END}" + after  # CRLF kept


def test_no_title_inserts_at_the_top(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("Plain text first.\n", "utf-8")
    badges.update_readme(path, LINE, apply=True)
    assert path.read_text("utf-8") == f"{badges.START}\n{LINE}\n{badges.END}\n\nPlain text first.\n"


@pytest.mark.parametrize("text", [
    f"# t\n{badges.START}\nno end\n",
    f"# t\n{badges.END}\n{badges.START}\n",
    f"# t\n{badges.START}\na\n{badges.END}\n{badges.START}\nb\n{badges.END}\n",
])
def test_broken_markers_raise_and_touch_nothing(tmp_path, text):
    path = tmp_path / "README.md"
    path.write_text(text, "utf-8")
    with pytest.raises(ValueError, match=str(path)):
        badges.update_readme(path, LINE, apply=True)
    assert path.read_text("utf-8") == text


def test_apply_keeps_file_permissions(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("# t\n", "utf-8")
    os.chmod(path, 0o640)
    badges.update_readme(path, LINE, apply=True)
    assert path.stat().st_mode & 0o777 == 0o640
    assert Path(path).read_text("utf-8").count(LINE) == 1


@pytest.mark.parametrize(("headline", "label"), [("line", "coverage (lines)"),
                                                  ("branch", "coverage (lines+branches)"), (None, "coverage")])
def test_coverage_badge_says_which_figure_is_the_headline(headline, label):
    entry = module()
    entry["coverage"]["headline"] = headline
    assert parsed("coverage", entry)[:2] == (label, "85%")


@pytest.mark.parametrize(("headline", "shown"), [
    ("line", "85% · branches 70.5%"),                     # the headline is lines: branches beside it
    ("branch", "85% · lines 90% · branches 70.5%"),       # lines+branches together: both beside it
    (None, "85%"),
])
def test_coverage_badge_shows_line_and_branch_percent_beside_the_headline(headline, shown):
    entry = module()
    entry["coverage"].update(headline=headline, line_pct=90.0, branch_pct=70.5)
    assert parsed("coverage", entry)[1:] == (shown, badges.GREEN)


def test_coverage_badge_without_branch_data_shows_the_headline_alone():
    entry = module()
    entry["coverage"].update(headline="line", line_pct=85.0, branch_pct=None)
    assert parsed("coverage", entry)[1] == "85%"
