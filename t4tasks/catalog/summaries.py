"""Module summaries and "see also": one line per module, and its nearest neighbours by content."""
# The summary is the first paragraph of the package docstring (read with ``ast``, never imported),
# else the README's first prose paragraph, else "". "See also" ranks the other modules by TF-IDF
# cosine similarity of summary + README + public names, computed here with numpy: no network, no
# model. Everything is a pure function of the files: same inputs, same output, whatever the order
# of the registry or of a dict, so the registry that carries the result stays byte-identical on
# reruns. Unreadable, non-UTF-8 or unparsable files count as absent: nothing here raises on bad
# input.

from __future__ import annotations

import ast
import functools
import io
import posixpath
import re
from pathlib import Path

from t4tasks.catalog import registry as registry_doc
from t4tasks.catalog.discovery import FileListing
from t4tasks.catalog.related import see_also
from t4tasks.catalog.project import Project
from t4tasks.speed import memo

MAX_SUMMARY = 160
MAX_TEXT_BYTES = 256 * 1024      # of a README or __init__.py: enough for any first paragraph
SEE_ALSO_MAX_MODULES = 3000      # past this, see-also (quadratic) is skipped and said so

# --------------------------------------------------------------------------------------------
# reading files


@functools.lru_cache(maxsize=16)
def _real(root: Path) -> Path:
    return root.resolve()


def _inside(root: Path, relpath: str) -> Path | None:
    """``root/relpath`` when it is a regular file that stays inside root (no symlink escape)."""
    if not relpath or posixpath.isabs(relpath) or ".." in relpath.split("/"):
        return None
    path = root / relpath
    try:
        if not path.is_file() or not path.resolve().is_relative_to(_real(root)):
            return None
    except (OSError, RuntimeError):
        return None
    return path


def _read_bytes(root: Path, relpath: str) -> bytes | None:
    path = _inside(root, relpath)
    if path is None:
        return None
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_TEXT_BYTES)
    except OSError:
        return None


def _read_text(root: Path, relpath: str) -> str | None:
    """UTF-8 text (BOM allowed), or None when absent, unreadable or not UTF-8."""
    data = _read_bytes(root, relpath)
    if data is None:
        return None
    if len(data) == MAX_TEXT_BYTES:  # a cut may split a character: drop the partial tail
        data = data[: data.rfind(b"\n") + 1] or data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _init_path(code_path: str | None) -> str:
    code = posixpath.normpath(code_path or ".")
    return "__init__.py" if code in (".", "") else f"{code}/__init__.py"


def _parse_init(root: Path, code_path: str | None) -> ast.Module | None:
    """The package's ``__init__.py`` as a syntax tree; None when absent, not UTF-8 or invalid."""
    text = _read_text(root, _init_path(code_path))
    if text is None:
        return None
    try:
        return ast.parse(text, filename=_init_path(code_path))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


# --------------------------------------------------------------------------------------------
# summary


def _one_line(text: str, limit: int = MAX_SUMMARY) -> str:
    """Whitespace collapsed; longer than ``limit`` → cut at a word boundary and end with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit]          # limit - 1 characters of text + "…" at most
    cut = head.rfind(" ", 0, limit)
    head = head[:cut] if cut > 0 else head[: limit - 1]
    head = head.rstrip(" ,;:-–—(/[")
    return head[: limit - 1] + "…"


def _first_paragraph(text: str) -> str:
    for block in re.split(r"\n\s*\n", text.strip()):
        if block.strip():
            return block
    return ""


def docstring_summary(tree: ast.Module | None) -> str:
    if tree is None:
        return ""
    doc = ast.get_docstring(tree, clean=True) or ""
    first = _first_paragraph(doc)
    if any(_UNDERLINE.match(line) for line in first.split("\n")[1:]):
        return rst_summary(doc)  # an RST title ("Name\n====="): the summary is the prose after it
    return _one_line(first)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")
_UNDERLINE = re.compile(r"^ {0,3}(=+|-+|~+|\^+|\*+|\++|#+)\s*$")   # setext / RST heading lines
_RULE = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])(\s|$)")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_LINKED_IMAGE = re.compile(r"\[\s*!\[[^\]]*\]\([^)]*\)\s*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\[[^\]]*\]")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_HTML_HEADING = re.compile(r"^ {0,3}<h[1-6][\s>]", re.I)
_LINK_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_AUTOLINK = re.compile(r"<(https?://[^>]*)>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`+)(?=\S)(.+?)(?<=\S)\1")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`_+")
_RST_ROLE = re.compile(r":[a-z]+:`([^`]*)`")


def _strip_front_matter(lines: list[str]) -> list[str]:
    if lines and lines[0].strip() in ("---", "+++"):
        marker = lines[0].strip()
        closers = ("---", "...") if marker == "---" else ("+++",)
        for i in range(1, len(lines)):
            if lines[i].strip() in closers:
                return lines[i + 1:]
        return []  # unterminated front matter: nothing after it is trustworthy prose
    return lines


def _strip_comments(text: str) -> str:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    cut = text.find("<!--")  # unterminated comment: the rest is comment
    return text if cut < 0 else text[:cut]


def _inline(line: str) -> str:
    """Markdown/RST inline markup → plain text (images dropped, links keep their words)."""
    line = _LINKED_IMAGE.sub("", line)
    line = _IMAGE.sub("", line)
    line = _RST_LINK.sub(r"\1", line)
    line = _RST_ROLE.sub(r"\1", line)
    line = _LINK.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    for _ in range(2):  # nested **`code`**
        line = _EMPHASIS.sub(r"\2", line)
    return line


def _is_markup_only(line: str) -> bool:
    """A line that is all badges, images or HTML: no prose in it."""
    if "[" not in line and "<" not in line:
        return not line.strip(" |·•,:-")
    rest = _LINK.sub("", _HTML_TAG.sub("", _IMAGE.sub("", _LINKED_IMAGE.sub("", line))))
    return bool(re.fullmatch(r"[\s|·•,:-]*", rest))


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """The README as (kind, text) blocks, without front matter and HTML comments."""
    # Kind is "prose", "heading", "code", "list", "quote", "table", "markup" or "directive".
    lines = _strip_front_matter(_strip_comments(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n"))
    blocks: list[tuple[str, str]] = []
    para: list[str] = []
    kind = ""

    def flush() -> None:
        nonlocal para, kind
        if para:
            blocks.append((kind, "\n".join(para)))
        para, kind = [], ""

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE.match(line)
        if fence:
            flush()
            closer = fence.group(1)[0] * len(fence.group(1))
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(closer):
                body.append(lines[i])
                i += 1
            blocks.append(("code", "\n".join(body)))
            i += 1
            continue
        if not stripped:
            flush()
        elif _ATX_HEADING.match(line) or _HTML_HEADING.match(line):
            flush()
            blocks.append(("heading", stripped.strip("#").strip()))
        elif para and kind == "prose" and _UNDERLINE.match(line):
            blocks.append(("heading", " ".join(p.strip() for p in para)))   # setext / RST title
            para, kind = [], ""
        elif _UNDERLINE.match(line) or _RULE.match(line) or _LINK_DEF.match(line):
            flush()  # an overline, a rule, a link definition: no prose
        elif stripped.startswith(".. ") or stripped == "..":
            flush()
            blocks.append(("directive", stripped))
        elif not para and line.startswith(("    ", "\t")):
            blocks.append(("code", stripped))  # indented code block
        elif _is_markup_only(stripped):
            flush()
            blocks.append(("markup", stripped))
        else:
            new_kind = ("list" if _LIST_ITEM.match(line) else "quote" if stripped.startswith(">")
                        else "table" if stripped.startswith("|") else "prose")
            if para and kind == "prose" and new_kind != "prose":
                flush()
            if not para:
                kind = new_kind
            para.append(line)
        i += 1
    flush()
    return blocks


def rst_summary(text: str) -> str:
    """The first prose paragraph of reStructuredText, parsed by docutils."""
    from docutils import nodes  # on first use: only .rst files and RST docstrings need it
    from docutils.core import publish_doctree

    # nothing is included or run: file insertion and raw output are off, and the parser reports nothing
    settings = {"file_insertion_enabled": False, "raw_enabled": False, "report_level": 5,
                "halt_level": 5, "warning_stream": io.StringIO(), "input_encoding": "unicode"}
    try:
        tree = publish_doctree(text, settings_overrides=settings)
    except Exception:  # docutils raises many kinds on malformed input: no summary, never a crash
        return ""
    # titles, directives (badges, images and their options), comments and field lists are never prose
    skipped = (nodes.system_message, nodes.field_list, nodes.docinfo, nodes.Admonition, nodes.sidebar,
               nodes.topic, nodes.substitution_definition, nodes.comment, nodes.table, nodes.footnote)
    for para in tree.findall(nodes.paragraph):
        parent, inside = para.parent, False
        while parent is not None:
            if isinstance(parent, skipped):
                inside = True
                break
            parent = parent.parent
        plain = _one_line(para.astext())
        if not inside and re.search(r"[A-Za-z]{2}", plain):
            return plain
    return ""


def readme_summary(text: str | None, rst: bool = False) -> str:
    """The first prose paragraph of a README; a leading blockquote tagline counts as prose."""
    if not text:
        return ""
    if rst:  # the README is reStructuredText, read by docutils
        return rst_summary(text)
    for kind, block in readme_blocks(text):
        if kind in ("prose", "quote"):
            lines = [re.sub(r"^\s*>\s?", "", ln) if kind == "quote" else ln for ln in block.split("\n")]
            plain = _one_line(" ".join(_inline(ln) for ln in lines))
            if re.search(r"[A-Za-z]{2}", plain):
                return plain
    return ""


def _readme_of(docs: list[str], name: str | None = None) -> str | None:
    """The shallowest README among a module's docs (the module's own before docs/README.md)."""
    readmes = [d for d in docs if posixpath.basename(d).lower().split(".")[0] == "readme"]
    if not readmes and name:  # a doc named after the module (``docs/{name}.rst``, ``doc/reference/{name_path}.rst``)
        stem = name.rsplit(".", 1)[-1].lower()
        readmes = [d for d in docs if posixpath.basename(d).lower().rsplit(".", 1)[0] == stem]
    if not readmes:
        return None
    return min(readmes, key=lambda d: (d.count("/"), not d.lower().endswith(".md"), d))


def summary(root: Path, code_path: str, docs: list[str]) -> str:
    """One line (≤ 160 characters) for a module: docstring, else README, else ""."""
    found = docstring_summary(_parse_init(Path(root), code_path))
    if found:
        return found
    readme = _readme_of(list(docs or ()))
    return readme_summary(_read_text(Path(root), readme), _is_rst(readme)) if readme else ""


def _is_rst(relpath: str | None) -> bool:
    return bool(relpath) and relpath.lower().endswith((".rst", ".rest"))


# --------------------------------------------------------------------------------------------
# public names


def _all_literal(tree: ast.Module) -> list[str] | None:
    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            if isinstance(value, ast.List | ast.Tuple) and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts):
                found = [e.value for e in value.elts]
            else:
                found = None  # the last assignment wins; a computed one cannot be read statically
    return found


def _assigned_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for elt in target.elts for n in _assigned_names(elt)]
    if isinstance(target, ast.Starred):
        return _assigned_names(target.value)
    return []


def names_of(tree: ast.Module | None) -> list[str]:
    if tree is None:
        return []
    declared = _all_literal(tree)
    if declared is not None:
        return sorted(set(declared))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_assigned_names(target))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            names.update(_assigned_names(node.target))
    return sorted(n for n in names if not n.startswith("_"))


def public_names(root: Path, code_path: str) -> list[str]:
    """Top-level public names of ``<code_path>/__init__.py``."""
    # ``__all__`` when it is a literal list/tuple of strings, else functions, classes, assignments not starting "_".
    return names_of(_parse_init(Path(root), code_path))


# --------------------------------------------------------------------------------------------
# the registry's view


def _modules(registry: dict | list) -> list[dict]:
    entries = registry.get("modules", []) if isinstance(registry, dict) else list(registry)
    # a duplicate (a later manifest reusing a name) is never measured and shares its owner's name
    return [e for e in entries if isinstance(e, dict) and e.get("name") and "duplicate_of" not in e]


def _module_text(root: Path, entry: dict) -> list[str]:
    """``[summary line, text for see-also]`` of one registry entry, from its files."""
    tree = _parse_init(root, entry.get("code"))
    readme_path = _readme_of(list(entry.get("docs") or ()), entry.get("name"))
    readme = _read_text(root, readme_path) if readme_path else None
    line = docstring_summary(tree) or readme_summary(readme, _is_rst(readme_path))
    prose = _LINK_TARGET.sub("]", _HTML_TAG.sub(" ", "\n".join(
        block for kind, block in readme_blocks(readme or "") if kind not in ("markup", "directive"))))
    return [line, "\n".join([line, prose, " ".join(names_of(tree))])]


def _content_key(root: Path, entry: dict, listing: FileListing) -> str:
    """What ``_module_text`` reads, as content ids."""
    parts: list[str] = []
    for relpath in (_init_path(entry.get("code")), _readme_of(list(entry.get("docs") or ()), entry.get("name"))):
        # a file the listing does not hold as a regular file is never read (``_inside`` refuses what is not
        # a file or escapes by a link), so it keys as absent: the listing already says what ``_inside`` checks
        readable = relpath and relpath in listing.file_set and relpath not in listing.symlinks
        parts += [relpath or "", memo.file_part(root, relpath) if readable else memo.ABSENT]
    return memo.key("summary/2", *parts)


def of(project: Project) -> dict:
    """MODULE_SUMMARIES.json's content, built once per process (the task and validate need it)."""
    def make() -> dict:
        remembered = project.memo("summaries")
        data = document(project.root, registry_doc.of(project), project.listing, remembered)
        remembered.save()
        return data

    return project.remember(("summaries document",), make)


def build(root: Path, registry: dict, listing: FileListing | None = None,
          remembered: memo.Memo | None = None) -> dict[str, dict]:
    """``{module name: {"summary": str, "see_also": [names]}}`` for a registry document."""
    root = Path(root)
    summaries: dict[str, str] = {}
    texts: dict[str, str] = {}
    for entry in sorted(_modules(registry), key=lambda e: e["name"]):  # ``registry``: or its list of entries
        name = entry["name"]
        if name in summaries:  # a duplicate: skipped
            continue
        # reads the module's ``__init__.py`` and README; with a listing and a memo, only when their
        # content changed since the memo was saved
        if listing is not None and remembered is not None:
            line, text = remembered.get(lambda e=entry: _content_key(root, e, listing), lambda e=entry: _module_text(root, e))
        else:
            line, text = _module_text(root, entry)
        summaries[name], texts[name] = line, text
    # see-also compares every module with every other (memory grows with N²): past a size where
    # that stops being cheap, it is left out, and the document says so
    related = see_also(texts) if len(texts) <= SEE_ALSO_MAX_MODULES else {name: [] for name in texts}
    return {name: {"summary": summaries[name], "see_also": related[name]} for name in sorted(summaries)}


def document(root: Path, registry: dict, listing: FileListing | None = None,
             remembered: memo.Memo | None = None) -> dict:
    """``MODULE_SUMMARIES.json``: deterministic one-line summaries and "see also" lists."""
    modules = build(root, registry, listing, remembered)
    data = {"schema_version": "t4.summaries/1", "modules": modules}
    if len(modules) > SEE_ALSO_MAX_MODULES:
        data["see_also_skipped"] = f"{len(modules)} modules > {SEE_ALSO_MAX_MODULES}: see-also not computed"
    return data


def view(registry: dict | list) -> list[list]:
    """What the summaries read of a registry: each module's name, code folder and docs."""
    # Not its description, owner or lane: editing those leaves the summaries as they were, and
    # their task up to date.
    return [[e["name"], e.get("code"), e.get("docs")] for e in _modules(registry)]


def sources(registry: dict, listed: frozenset[str]) -> list[str]:
    """The files summaries read that exist (``listed``): the content they are made of."""
    return sorted(set(inputs_of(registry)) & listed)


def inputs_of(registry: dict) -> list[str]:
    """The files summaries are read from: each module's ``__init__.py`` and README, when listed."""
    files = set()
    for entry in _modules(registry):
        files.add(_init_path(entry.get("code")))
        readme = _readme_of(list(entry.get("docs") or ()), entry.get("name"))
        if readme:
            files.add(readme)
    return sorted(files)
