"""Shields-style SVG badges per module (``coverage``, ``health``, ``p95``) and the README badge line."""
# The badges are drawn by anybadge; T4 only picks the value, the label and the thresholds:
#
# * coverage: the headline with line % and branch % beside it; green at or above the module's target (``meta`` ``coverage.target``; 80 when it has
#   none), yellow up to 10 points below it, red under that;
# * health (0-100): red under 40, orange under 60, yellow under 80, green from 80;
# * p95: green at or under the module's p95 latency target, red above it, blue (informational) when
#   the module has no p95 target.
#
# Unknown is never zero: a module never measured gets a grey ``unknown`` badge, while a measured
# ``0%`` is a red ``0%``. Output is deterministic: anybadge numbers its SVG ``mask`` ids from a
# process-wide counter, so T4 replaces that id with one derived from the module and the badge kind.
#
# ``update_readme`` keeps a badge line between ``<!-- t4:badges -->`` and ``<!-- /t4:badges -->``
# in a Markdown file. It changes nothing outside that block, and by default only returns the diff.

from __future__ import annotations

import difflib
import hashlib
import math
import re
from pathlib import Path

from t4tasks import paths
from t4tasks.catalog import names as names_rule
from t4tasks.outputs import meta
from t4tasks.speed import atomic

KINDS = ("coverage", "health", "p95")
START = "<!-- t4:badges -->"
END = "<!-- /t4:badges -->"

# shields.io's palette (anybadge's default badge colours use the same hex codes)
GREEN, YELLOW, ORANGE, RED = "#4C1", "#DFB317", "#FE7D37", "#E05D44"
GREY, BLUE = "#9F9F9F", "#007EC6"

DEFAULT_COVERAGE_TARGET = 80.0
COVERAGE_YELLOW_BAND = 10.0
HEALTH_THRESHOLDS = {40.0: RED, 60.0: ORANGE, 80.0: YELLOW, math.inf: GREEN}
UNKNOWN = "unknown"


def targets(names: list[str]) -> list[str]:
    """Paths (relative to the badge folder) of every badge ``render`` writes for these modules."""
    return [f"{name}/{kind}.svg" for name in sorted(names) if names_rule.problem(name) is None for kind in KINDS]


def render(document: dict, out_dir: Path) -> list[str]:
    """Write ``<out_dir>/<module>/{coverage,health,p95}.svg`` for every module in META_REGISTRY."""
    # Returns the paths (relative to ``out_dir``, POSIX, sorted) of the files whose content changed.
    out_dir = Path(out_dir)
    changed = []
    for module in sorted(document.get("modules", []), key=lambda m: m[meta.NAME]):
        if names_rule.problem(module[meta.NAME]) is not None:
            continue  # a hand-edited registry: its name is not a folder T4 may write
        for kind in KINDS:
            relpath = f"{module['name']}/{kind}.svg"
            if atomic.write_text(paths.inside(out_dir, relpath), badge_svg(kind, module)):  # unchanged: not rewritten
                changed.append(relpath)
    return changed


def badge_svg(kind: str, module: dict) -> str:
    """The SVG text of one badge for one META_REGISTRY module entry."""
    import anybadge  # imported on first use: start-up time matters for every t4 run

    value, _, suffix = _spec(kind, module)
    # The colour is picked here, not by anybadge's ``thresholds``: anybadge types a value like 80.0
    # as an int and then truncates float thresholds with int() (79.5 -> 79), a wrong colour.
    label = _label(kind, module)
    if value is None:
        badge = anybadge.Badge(label, UNKNOWN, default_color=GREY)
    else:
        badge = anybadge.Badge(label, _shown(value, kind) + suffix + _beside(kind, module),
                               default_color=colour(kind, module))
    # anybadge's mask ids come from a per-process counter: same badge, different bytes
    badge.mask_str = f"t4-{kind}-{hashlib.sha256(module['name'].encode('utf-8')).hexdigest()[:12]}"
    return badge.badge_svg_text


def _label(kind: str, module: dict) -> str:
    """The badge's label; a coverage badge says which figure it shows (lines, or lines and branches)."""
    if kind != "coverage":
        return kind
    headline = (module.get(meta.COVERAGE) or {}).get(meta.HEADLINE)
    return {"line": "coverage (lines)", "branch": "coverage (lines+branches)"}.get(headline or "", kind)


# per headline, the figures a coverage badge shows after it (the headline itself is lines, or
# lines and branches together)
BESIDE = {"line": (("branches", meta.BRANCH_PCT),),
          "branch": (("lines", meta.LINE_PCT), ("branches", meta.BRANCH_PCT))}


def _beside(kind: str, module: dict) -> str:
    """After the coverage headline, line % and branch % side by side (those it is not)."""
    block = (module.get(meta.COVERAGE) or {}) if kind == "coverage" else {}
    figures = [(word, _float(block.get(key))) for word, key in BESIDE.get(block.get(meta.HEADLINE) or "", ())]
    return "".join(f" · {word} {_shown(value, kind)}%" for word, value in figures if value is not None)


def colour(kind: str, module: dict) -> str:
    """The badge colour (hex) for ``kind``: the colour of the first threshold the value is below."""
    value, thresholds, _ = _spec(kind, module)
    if value is None:
        return GREY
    for threshold, hex_code in sorted(thresholds.items()):
        if value < threshold:
            return hex_code
    return thresholds[max(thresholds)]


def _spec(kind: str, module: dict) -> tuple[float | None, dict[float, str], str]:
    """(value or None when unknown, thresholds, value suffix) for one badge."""
    # A value gets the colour of the first threshold it is *below* (anybadge's convention).
    if kind == "coverage":
        block = module.get(meta.COVERAGE) or {}
        target = block.get(meta.TARGET)
        target = DEFAULT_COVERAGE_TARGET if target is None else float(target)
        # "at or above the target is green" is ``{target: yellow, inf: green}``
        thresholds = {target - COVERAGE_YELLOW_BAND: RED, target: YELLOW, math.inf: GREEN}
        return _float(block.get(meta.OBSERVED)), thresholds, "%"
    if kind == "health":
        return _float(module.get(meta.HEALTH_SCORE)), dict(HEALTH_THRESHOLDS), ""
    if kind == "p95":
        block = module.get(meta.PERFORMANCE) or {}
        sla = _float((block.get(meta.SLA) or {}).get(meta.P95_MS))
        # "at or under the SLA is green": the next float above the SLA
        thresholds = {math.inf: BLUE} if sla is None else {math.nextafter(sla, math.inf): GREEN, math.inf: RED}
        return _float(block.get(meta.P95_MS)), thresholds, " ms"
    raise ValueError(f"unknown badge kind {kind!r} (expected one of {', '.join(KINDS)})")


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _shown(value: float, kind: str) -> str:
    """The value as shown: percentages and scores to 2 decimals, latencies to about 3 digits."""
    places = (0 if value >= 100 else 1 if value >= 10 else 2) if kind == "p95" else 2
    text = f"{value:.{places}f}"
    # trailing zeros trimmed: "80", "79.9", "134", "1.25"
    return text.rstrip("0").rstrip(".") if "." in text else text


def markdown(name: str, badge_dir: str) -> str:
    """The badge line for module ``name``; ``badge_dir`` is the badge folder relative to the README."""
    # The alt texts are fixed, so a new measurement changes the SVG files, never the README.
    base = badge_dir.rstrip("/")
    return " ".join(f"![{kind}]({base}/{name}/{kind}.svg)" for kind in KINDS)


_BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_HEADING = re.compile(r"(?:[ \t]*\r?\n)*#[ \t][^\r\n]*(?:\r?\n|\Z)")


def update_readme(path: Path | str, badge_markdown: str, apply: bool = False) -> tuple[bool, str]:
    """Put ``badge_markdown`` between the badge markers of the Markdown file at ``path``."""
    # Returns ``(changed, unified diff)``; the file is written only with ``apply=True``.
    path = Path(path)
    try:
        old = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    # an existing marked block is replaced; without one, a block is inserted after the title (the first
    # ``# `` heading, after any YAML front matter) or at the top. Nothing outside the block changes, line
    # endings included. Unbalanced or repeated markers raise ``ValueError`` and touch nothing.
    new = with_badges(old, badge_markdown, str(path))
    if new == old:
        return False, ""
    diff = "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))
    if apply:
        atomic.write_bytes(path, new.encode("utf-8"))
    return True, diff


def with_badges(text: str, badge_markdown: str, where: str = "<text>") -> str:
    """``text`` with its badge block set to ``badge_markdown`` (see ``update_readme``)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    line = newline.join(part.strip() for part in badge_markdown.strip().splitlines())
    block = f"{START}{newline}{line}{newline}{END}"
    starts, ends = text.count(START), text.count(END)
    if starts != ends or starts > 1:
        raise ValueError(f"{where}: expected one {START} … {END} block, found {starts} start and "
                         f"{ends} end markers; fix the file by hand")
    if starts == 1:
        match = _BLOCK.search(text)
        if match is None:
            raise ValueError(f"{where}: {END} comes before {START}; fix the file by hand")
        return text[:match.start()] + block + text[match.end():]
    front = _FRONT_MATTER.match(text)
    offset = front.end() if front else 0
    if front and not front.group().endswith("\n"):  # front matter closes at the end of the file
        return text + newline + newline + block + newline
    heading = _HEADING.match(text, offset)
    if heading:
        end = heading.end()
        eol = "" if heading.group().endswith("\n") else newline
        return text[:end] + eol + newline + block + newline + text[end:]
    rest = text[offset:]
    return text[:offset] + block + newline + (newline + rest if rest.strip() else "")
