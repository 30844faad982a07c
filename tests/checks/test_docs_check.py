"""docs_check on real Markdown files in a temporary repository.

Each test builds the files it needs and asserts the exact problems (file, line, message), so a
checker that reports nothing, or reports the wrong line, fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from t4tasks.catalog.discovery import list_files
from t4tasks.checks import docs_check
from t4tasks.problems import Problem

from tests.support import git_init, make_repo, manifest, read_registry, run_t4, write

VALID_CONTEXT = """\
---
module: payments
title: Payments context
updated: 2025-10-05
lane: L2
---
# Payments
"""


def repo(root: Path, files: dict[str, str | bytes]) -> frozenset[str]:
    """Write ``files`` under ``root`` and return the repository listing docs_check resolves against."""
    for relpath, content in files.items():
        write(root / relpath, content)
    return list_files(root).file_set


def test_broken_relative_link_is_reported_with_its_line(tmp_path: Path) -> None:
    files = repo(tmp_path, {
        "pay/README.md": "# Pay\n\nSee [the API](docs/API.md).\n\nAnd [gone](docs/GONE.md) here.\n\n[ref]: old/API.md\n",
        "pay/docs/API.md": "# API\n",
    })
    assert docs_check.check_file(tmp_path, "pay/README.md", files) == [
        Problem("pay/README.md", "broken link: docs/GONE.md (no such file)", 5),
        Problem("pay/README.md", "broken link: old/API.md (no such file)", 7),
    ]


def test_broken_anchor_is_reported_with_its_line(tmp_path: Path) -> None:
    files = repo(tmp_path, {
        "README.md": "# Top\n\n## Usage\n\n[ok](#usage)\n[own](#nowhere)\n[other](docs/API.md#missing)\n",
        "docs/API.md": "# API\n\n## Functions\n",
    })
    assert docs_check.check_file(tmp_path, "README.md", files) == [
        Problem("README.md", "broken link: #nowhere (no heading #nowhere in README.md)", 6),
        Problem("README.md", "broken link: docs/API.md#missing (no heading #missing in docs/API.md)", 7),
    ]


def test_working_links_and_github_slugs_are_not_reported(tmp_path: Path) -> None:
    target = """\
---
title: API
---
# API

## Usage
## Usage
## The `run()` API: v2.0!
## Install & Run
## [Linked](https://example.com) heading
## Ünïcode Straße
<a name="legacy-anchor"></a>
Setext heading
--------------
"""
    readme = """\
# Module

[usage](docs/API.md#usage) and [second usage](docs/API.md#usage-1)
[code](docs/API.md#the-run-api-v20) [amp](docs/API.md#install--run) [link](docs/API.md#linked-heading)
[unicode](docs/API.md#ünïcode-straße) [html](docs/API.md#legacy-anchor) [setext](docs/API.md#setext-heading)
[case](docs/API.md#Usage) [folder](docs/) [up](docs/../README.md) [root-relative](/pay/docs/API.md)
![diagram](docs/diagram.png "The diagram") [spaced](<docs/my notes.md>) [encoded](docs/my%20notes.md)
[code anchor](../tool.py#L10) [self](#module) [web](https://example.com/x.md) [mail](mailto:a@b.c)

[ref]: docs/API.md#usage
"""
    files = repo(tmp_path, {
        "pay/README.md": readme,
        "pay/docs/API.md": target,
        "pay/docs/diagram.png": b"\x89PNG",
        "pay/docs/my notes.md": "# Notes\n",
        "tool.py": "x = 1\n",
    })
    assert docs_check.check_file(tmp_path, "pay/README.md", files) == []


def test_duplicate_slug_numbering_follows_github(tmp_path: Path) -> None:
    # "Foo", "Foo", "Foo 1": GitHub gives foo, foo-1, foo-1-1 (the third one collides with the second)
    files = repo(tmp_path, {"README.md": "# Foo\n# Foo\n# Foo 1\n[a](#foo-1-1)\n[b](#foo-2)\n"})
    assert docs_check.check_file(tmp_path, "README.md", files) == [
        Problem("README.md", "broken link: #foo-2 (no heading #foo-2 in README.md)", 5),
    ]


def test_links_and_headings_in_code_are_ignored(tmp_path: Path) -> None:
    text = """\
# Doc

```python
x = "[not a link](missing.md)"
```

~~~~
```
[still code](missing.md)
```
~~~~
````markdown
```
[a shorter fence does not close a longer one](missing.md)
````

Inline `[not a link](missing.md)` and ``[neither](`missing.md`)``.

```
## Fenced heading
```
[after the fences](#fenced-heading)

<!-- a comment block is not rendered either
[commented out](missing.md)
-->
Text <!-- [inline comment](missing.md) --> and a footnote.[^1]

[^1]: A footnote definition is not a link: see (missing.md).
[after the comments](#nowhere)
"""
    files = repo(tmp_path, {"README.md": text})
    assert docs_check.check_file(tmp_path, "README.md", files) == [
        Problem("README.md", "broken link: #fenced-heading (no heading #fenced-heading in README.md)", 22),
        Problem("README.md", "broken link: #nowhere (no heading #nowhere in README.md)", 30),
    ]


def test_non_utf8_file_is_reported_not_crashed_on(tmp_path: Path) -> None:
    files = repo(tmp_path, {"README.md": b"# Title\n\ncaf\xe9 latin-1\n", "docs/A.md": "[r](../README.md#title)\n"})
    assert docs_check.check(tmp_path, ["README.md", "docs/A.md"], files) == [
        Problem("README.md", "not valid UTF-8 (byte 0xe9 at offset 12)", 3),
    ]


def test_invalid_yaml_front_matter_is_reported_with_its_line(tmp_path: Path) -> None:
    files = repo(tmp_path, {"README.md": "---\ntitle: ok\n  status: draft\nlane: L1\n---\n# Doc\n[x](#nowhere)\n"})
    assert docs_check.check_file(tmp_path, "README.md", files) == [
        Problem("README.md", "invalid YAML front matter: mapping values are not allowed here", 3),
        Problem("README.md", "broken link: #nowhere (no heading #nowhere in README.md)", 7),  # body still checked
    ]


def test_unclosed_front_matter_is_reported(tmp_path: Path) -> None:
    files = repo(tmp_path, {"README.md": "---\ntitle: x\n# Doc\n"})
    assert docs_check.check_file(tmp_path, "README.md", files) == [
        Problem("README.md", "front matter opened with '---' is never closed", 1),
    ]


def test_context_doc_requires_its_keys(tmp_path: Path) -> None:
    files = repo(tmp_path, {
        "pay/module_context.md": VALID_CONTEXT.replace("lane: L2\n", ""),
        "pay/NOTES.md": "---\ntype: context\nmodule: payments\ntitle: Notes\nupdated: yesterday\nlane: L9\n---\n",
        "pay/lukhas_context.md": VALID_CONTEXT,
        "pay/README.md": "---\ntitle: Payments\n---\n# Payments\n",  # a plain doc: every key optional
    })
    problems = docs_check.check(tmp_path, sorted(f for f in files if f.endswith(".md")), files)
    assert problems == [
        Problem("pay/NOTES.md", "front matter: updated: 'yesterday' is not a 'date'", 5),
        Problem("pay/NOTES.md", "front matter: lane: 'L9' is not one of ['L0', 'L1', 'L2', 'L3', 'L4', 'L5']", 6),
        Problem("pay/module_context.md", "front matter: 'lane' is a required property in a context doc", 1),
    ]


def test_link_escaping_the_root_is_reported(tmp_path: Path) -> None:
    files = repo(tmp_path, {"pay/README.md": "# Pay\n[secrets](../../../etc/passwd)\n"})
    assert docs_check.check_file(tmp_path, "pay/README.md", files) == [
        Problem("pay/README.md", "broken link: ../../../etc/passwd (outside the repository root)", 2),
    ]


def test_link_through_a_symlink_leaving_the_root_is_reported(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "SECRET.md", "# Secret\n")
    root = tmp_path / "repo"
    write(root / "README.md", "# Repo\n[s](SECRET.md#secret)\n")
    os.symlink(outside, root / "SECRET.md")
    files = list_files(root).file_set
    assert "SECRET.md" in files
    assert docs_check.check_file(root, "README.md", files) == [
        Problem("README.md", "broken link: SECRET.md#secret (symlink outside the repository root)", 2),
    ]


def test_required_readme_missing_is_reported(tmp_path: Path) -> None:
    files = repo(tmp_path, {
        "pay/CHANGELOG.md": "# Changes\n",
        "ledger/readme.md": "# Ledger\n",  # case-insensitive, like the scaffolder's collision check
        "README.md": "# Root\n",
    })
    assert docs_check.required_docs("pay", ("README.md", "CHANGELOG.md"), files) == [
        Problem("pay", "required doc missing: pay/README.md"),
    ]
    assert docs_check.required_docs("ledger", ("README.md",), files) == []
    assert docs_check.required_docs(".", ("README.md", "CHANGELOG.md"), files) == [
        Problem(".", "required doc missing: CHANGELOG.md"),
    ]


@pytest.mark.parametrize(("heading", "slug"), [
    ("Hello, World!", "hello-world"),
    ("snake_case and kebab-case", "snake_case-and-kebab-case"),
    ("`__init__` (module)", "__init__-module"),
    ("  Spaces   inside  ", "spaces---inside"),
    ("C++ & C#", "c--c"),
    ("Version 2.0 — final?", "version-20--final"),
    ("8. Build _(optional)_", "8-build-optional"),          # '_' emphasis markers are not text
    ("`__init__` and __init__ and snake_case", "__init__-and-init-and-snake_case"),
    ("_private names", "_private-names"),                    # an unpaired '_' is text
    ("2. \\<nodejs.org> access", "2-nodejsorg-access"),       # an escaped '<' is text, not a tag
    ("<a name='x'></a>Setup", "setup"),
])
def test_slug_matches_github(heading: str, slug: str) -> None:
    assert docs_check._slug(heading) == slug


def test_required_docs_and_summaries_follow_doc_patterns_outside_the_module(tmp_path):
    """Projects documenting modules in doc/reference/<name_path>.rst: required there, summarised from there."""
    root = make_repo(tmp_path / "repo", {"pkg/sub": manifest("pkg.sub"), "other": manifest("other")},
                     {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "other/__init__.py": "",
                      "doc/reference/pkg/sub.rst": "Sub\n===\n\n.. image:: https://x/badge.svg\n   :target: https://x\n\n"
                                                   "Sub does the reference work.\n"},
                     pyproject='[tool.t4]\nrequired_docs = ["doc/reference/{name_path}.rst"]\n')
    git_init(root)
    code, out, err = run_t4(root, "validate")
    assert "required doc missing: doc/reference/other.rst" in out
    assert "required doc missing: doc/reference/pkg/sub.rst" not in out
    entries = {e["name"]: e for e in read_registry(root)["modules"]}
    assert "doc/reference/pkg/sub.rst" in entries["pkg.sub"]["docs"]
    summaries = json.loads((root / "docs/_generated/MODULE_SUMMARIES.json").read_text())
    assert summaries["modules"]["pkg.sub"]["summary"] == "Sub does the reference work."
    meta = json.loads((root / "docs/_generated/META_REGISTRY.json").read_text())
    docs = {m["name"]: m["docs"] for m in meta["modules"]}
    assert docs["pkg.sub"]["present"] == ["doc/reference/pkg/sub.rst"]
    assert docs["other"]["required"] == ["doc/reference/other.rst"] and docs["other"]["present"] == []
