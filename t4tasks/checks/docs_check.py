"""Docs quality: front matter, relative links and anchors, required docs per module."""
# Pure functions over the files on disk and the repository's file listing; the doit task around
# them lives elsewhere. Like every gate, they never raise on bad input: a non-UTF-8 file, broken
# YAML or a dead link each become one ``Problem`` naming the file and line, and the other files are
# still checked.
#
# Links are resolved the way GitHub renders them, because that is where people click them: relative
# to the linking file's folder (a leading ``/`` means the repository root), anchors against
# GitHub's heading slugs, and a file counts as existing only if it is in the listing (a link to an
# ignored or untracked-and-excluded file is dead for everyone else).

from __future__ import annotations

import datetime
import functools
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from t4tasks.catalog.config import module_doc_path
from t4tasks.problems import Problem
from t4tasks.speed import memo

MARKDOWN_SUFFIXES = (".md", ".markdown")
MAX_FRONT_MATTER = 64 * 1024  # characters; real front matter is a few lines
CONTEXT_NAME = re.compile(r"context$", re.IGNORECASE)  # module_context.md, lukhas_context.md

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(?!`)(.*?)(?<!`)\1(?!`)")
INLINE_LINK = re.compile(
    r"\[(?:[^\[\]]|\[[^\]]*\])*\]"                              # [text], one level of nested []
    r"\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"  # (target "optional title")
)
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[(?!\^)[^\]]+\]:\s*(<[^>]*>|\S+)")  # not a [^1]: footnote
COMMENT_BLOCK = re.compile(r"^ {0,3}<!--")
INLINE_COMMENT = re.compile(r"<!--.*?-->")
UNDERSCORE_EMPHASIS = re.compile(r"(?<![^\W_])(_+)(?=\S)(.+?)(?<=\S)\1(?![^\W_])")  # _x_, __x__; not snake_case
HTML_ANCHOR = re.compile(r"<a\s[^>]*?\b(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
HTML_TAG = re.compile(r"(?<!\\)<[^>]+>")  # not an escaped \<literal>
LINK_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
EXTERNAL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")  # http:, https:, mailto:, ftp:, //host
NOT_SLUG = re.compile(r"[^\w\- ]")  # GitHub keeps letters, digits, '_', '-' and spaces


SCHEMA_PATH = Path(__file__).parents[1] / "catalog" / "schema" / "doc.frontmatter.schema.json"


@functools.cache
def schema() -> dict[str, Any]:
    """T4's front matter schema, shipped inside the package."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator():
    import jsonschema  # imported on first use: start-up time matters for every t4 run

    # without a format checker "format": "date" is only an annotation and "yesterday" would pass
    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@dataclass
class _Repo:
    """The repository as one run sees it, with what is worth computing once per run, not per link."""
    # That is a heavily linked doc's anchors, and whether a linked path really stays inside.

    root: Path
    all_files: frozenset[str]
    remembered: memo.Memo | None = None
    parsed: dict[str, dict] = field(default_factory=dict)
    inside: dict[str, bool] = field(default_factory=dict)

    def parse(self, relpath: str) -> dict:
        """What one file says by itself (its problems, links, anchors), once per run, memoised by content."""
        if relpath not in self.parsed:
            if self.remembered is None:
                self.parsed[relpath] = _parse(self.root, relpath)
            else:
                self.parsed[relpath] = self.remembered.get(
                    lambda: memo.key("doc/1", relpath, memo.file_part(self.root, relpath)),
                    lambda: _parse(self.root, relpath))
        return self.parsed[relpath]

    @functools.cached_property
    def real_root(self) -> Path:
        return self.root.resolve()

    def stays_inside(self, relpath: str) -> bool:
        """False when a symlink on the way leads out of the root."""
        if relpath not in self.inside:
            self.inside[relpath] = (self.root / relpath).resolve().is_relative_to(self.real_root)
        return self.inside[relpath]


def check(root: Path, files: list[str], all_files: frozenset[str],
          remembered: memo.Memo | None = None) -> list[Problem]:
    """Every problem in ``files`` (repo-relative Markdown paths), sorted by file and line."""
    # With a memo, a file whose content did not change is not parsed again; its links are still
    # resolved against today's listing and today's anchors of the files they point to.
    repo = _Repo(root, all_files, remembered)
    problems = [problem for relpath in files for problem in _check_file(repo, relpath)]
    return sorted(problems, key=lambda p: (p.path, p.line or 0, p.message))


def check_file(root: Path, relpath: str, all_files: frozenset[str]) -> list[Problem]:
    """Problems in one Markdown file: encoding, front matter, broken links and anchors."""
    return _check_file(_Repo(root, all_files), relpath)


def required_docs(module_path: str, required: tuple[str, ...], all_files: frozenset[str],
                  name: str | None = None) -> list[Problem]:
    """One problem per required doc missing from the module folder."""
    present = _casefolded(all_files)
    # or, for a pattern with a placeholder such as ``doc/reference/{name_path}.rst``, from where it puts it
    wanted = [module_doc_path(module_path, name or posixpath.basename(module_path), doc) for doc in required]
    # case-insensitively, like the scaffolder's collision check: else a module with ``readme.md`` would be
    # reported forever while ``scaffold_docs`` refuses to add ``README.md``
    return [Problem(module_path, f"required doc missing: {relpath}")
            for relpath in wanted if relpath is not None and relpath.lower() not in present]


def _check_file(repo: _Repo, relpath: str) -> list[Problem]:
    parsed = repo.parse(relpath)
    problems = [Problem(relpath, message, line) for line, message in parsed["problems"]]
    for number, target in parsed["links"]:
        reason = _broken(repo, relpath, target)
        if reason:
            problems.append(Problem(relpath, f"broken link: {target} ({reason})", number))
    return problems


def _parse(root: Path, relpath: str) -> dict:
    """``{"problems": [[line, message]], "links": [[line, target]], "anchors": [...]}`` of one file."""
    # From its content alone, JSON-shaped so a memo can keep it.
    try:
        raw = (root / relpath).read_bytes()
    except OSError as exc:
        return {"problems": [[None, f"cannot read: {exc.strerror}"]], "links": [], "anchors": []}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        # anchors are read leniently: an undecodable byte is this file's problem, not that of a file
        # linking to one of its headings
        lines = _lines(raw.decode("utf-8", errors="replace"))
        end = _front_matter_end(lines)
        return {"problems": [[line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"]],
                "links": [], "anchors": sorted(_anchor_set(lines, 0 if end is None else end + 1))}
    lines = _lines(text)
    body, problems = _front_matter(relpath, lines)
    return {"problems": [[p.line, p.message] for p in problems],
            "links": [[number, target] for number, target in _links(lines, body)],
            "anchors": sorted(_anchor_set(lines, body))}


def _lines(text: str) -> list[str]:
    """Lines without their endings; only \\n, \\r\\n and \\r count, so numbers match editors."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _front_matter_end(lines: list[str]) -> int | None:
    """Index of the closing delimiter of a front matter block opened on line 1, or None."""
    if not lines or lines[0].rstrip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return index
    return None


@functools.cache
def _loader_class():
    """PyYAML's safe loader without aliases."""
    # ``*a`` can make a tiny document expand enormously (or refer to itself), and front
    # matter has no use for them.
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in front matter",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)

    return NoAliasLoader


def _front_matter(relpath: str, lines: list[str]) -> tuple[int, list[Problem]]:
    """Parse and validate the front matter; return the index of the first body line and problems."""
    import yaml  # imported on first use: start-up time matters for every t4 run

    end = _front_matter_end(lines)
    if end is None:
        if lines[0].rstrip() == "---":
            return 0, [Problem(relpath, "front matter opened with '---' is never closed", 1)]
        return 0, []
    text = "\n".join(lines[1:end])
    if len(text) > MAX_FRONT_MATTER:
        return end + 1, [Problem(relpath, f"front matter is {len(text)} characters long (at most {MAX_FRONT_MATTER})", 1)]
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except RecursionError:
        return end + 1, [Problem(relpath, "invalid YAML front matter: nested too deep", 1)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 2 if mark else 1  # +1 for 1-based, +1 for the opening '---'
        return end + 1, [Problem(relpath, f"invalid YAML front matter: {getattr(exc, 'problem', None) or exc}", line)]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return end + 1, [Problem(relpath, f"front matter must be a mapping of keys, found {type(data).__name__}", 2)]
    key_lines = {key.value: key.start_mark.line + 2 for key, _ in getattr(node, "value", ())
                 if isinstance(key, yaml.ScalarNode)}
    inferred = "context" if CONTEXT_NAME.search(posixpath.splitext(posixpath.basename(relpath))[0]) else "doc"
    instance = {"type": inferred, **_jsonable(data)}
    problems = []
    for error in _validator().iter_errors(instance):
        if error.absolute_path:
            key = error.absolute_path[0]
            problems.append(Problem(relpath, f"front matter: {key}: {error.message}", key_lines.get(key, 1)))
        else:  # a missing key has no line of its own: point at the opening '---'
            problems.append(Problem(relpath, f"front matter: {error.message} in a {instance['type']} doc", 1))
    return end + 1, problems


def _jsonable(value: Any) -> Any:
    """YAML dates as ISO strings, so the JSON Schema sees the JSON types it is written for."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _markdown_lines(lines: list[str], start: int) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for body lines GitHub renders as Markdown."""
    fence = ""
    in_comment = False
    for index in range(start, len(lines)):
        line = lines[index]
        opening = FENCE.match(line)
        if fence:
            # a fence closes with the same character, at least as long, and nothing after it
            if opening and opening[1][0] == fence[0] and len(opening[1]) >= len(fence) and not line[opening.end():].strip():
                fence = ""
        elif in_comment:
            in_comment = "-->" not in line
        elif opening:
            fence = opening[1]
        # an HTML comment block: ``<!-- ... -->`` opening a line
        elif COMMENT_BLOCK.match(line):
            in_comment = "-->" not in line
        else:
            yield index + 1, line


def _links(lines: list[str], start: int) -> Iterator[tuple[int, str]]:
    """(line number, target) of every inline link, image and reference definition outside code."""
    for number, line in _markdown_lines(lines, start):
        prose = INLINE_COMMENT.sub("", CODE_SPAN.sub("", line))
        for match in INLINE_LINK.finditer(prose):
            yield number, match[1].strip("<>")
        definition = REFERENCE_DEFINITION.match(prose)
        if definition:
            yield number, definition[1].strip("<>")


def _broken(repo: _Repo, relpath: str, target: str) -> str | None:
    """Why ``target`` (linked from ``relpath``) leads nowhere, or None when it works or is external."""
    if EXTERNAL.match(target):
        return None
    path, _, anchor = target.partition("#")
    if path:
        base = "" if path.startswith("/") else posixpath.dirname(relpath)
        resolved = posixpath.normpath(posixpath.join(base, unquote(path).lstrip("/")))
        if resolved == ".." or resolved.startswith("../"):
            return "outside the repository root"
        resolved = "" if resolved == "." else resolved
        if resolved not in repo.all_files and resolved not in _directories(repo.all_files):
            return "no such file"
        if not repo.stays_inside(resolved):
            return "symlink outside the repository root"
    else:
        resolved = relpath
    if not anchor:
        return None
    if path and not (resolved in repo.all_files and resolved.lower().endswith(MARKDOWN_SUFFIXES)):
        return None  # folders and other files (code) have line anchors on GitHub, not heading anchors
    if unquote(anchor).lower() not in repo.parse(resolved)["anchors"]:
        return f"no heading #{anchor} in {resolved}"
    return None


def _anchor_set(lines: list[str], start: int) -> frozenset[str]:
    """GitHub's heading slugs (ATX and setext, duplicates numbered) plus explicit ``<a name|id>``."""
    seen: dict[str, int] = {}
    found = set()
    previous: tuple[int, str] | None = None
    for number, line in _markdown_lines(lines, start):
        found.update(name.lower() for name in HTML_ANCHOR.findall(line))
        heading = ATX_HEADING.match(line)
        if heading:
            found.add(_unique(_slug(heading[1] or ""), seen))
        elif (SETEXT_UNDERLINE.match(line) and previous and previous[0] == number - 1
              and previous[1].strip() and not ATX_HEADING.match(previous[1])):
            found.add(_unique(_slug(previous[1]), seen))
        previous = (number, line)
    return frozenset(found)


def _slug(heading: str) -> str:
    """GitHub's slug of a heading's rendered text: lowercase, punctuation dropped, each space becomes '-'."""
    parts = []
    position = 0
    for span in CODE_SPAN.finditer(heading):
        parts.append(_rendered(heading[position:span.start()]))
        parts.append(span[2])  # a code span keeps its content verbatim, so ``__init__`` survives
        position = span.end()
    parts.append(_rendered(heading[position:]))
    return NOT_SLUG.sub("", "".join(parts).strip().lower()).replace(" ", "-")  # spaces not collapsed


def _rendered(markdown: str) -> str:
    """Inline Markdown (outside code) reduced to its visible text."""
    # Links and images to their text, HTML tags and '_' emphasis markers gone ('*' markers are
    # punctuation, dropped anyway).
    return UNDERSCORE_EMPHASIS.sub(r"\2", HTML_TAG.sub("", LINK_TEXT.sub(r"\1", markdown)))


def _unique(slug: str, seen: dict[str, int]) -> str:
    """github-slugger's numbering: the second "foo" is "foo-1", even when "foo-1" is a heading too."""
    result = slug
    while result in seen:
        seen[slug] += 1
        result = f"{slug}-{seen[slug]}"
    seen[result] = 0
    return result


@functools.lru_cache(maxsize=4)
def _directories(all_files: frozenset[str]) -> frozenset[str]:
    """Every folder holding a listed file ("" is the root): links to folders are valid on GitHub."""
    folders = {""}
    for path in all_files:
        folder = posixpath.dirname(path)
        while folder not in folders:
            folders.add(folder)
            folder = posixpath.dirname(folder)
    return frozenset(folders)


@functools.lru_cache(maxsize=4)
def _casefolded(all_files: frozenset[str]) -> frozenset[str]:
    return frozenset(path.lower() for path in all_files)
