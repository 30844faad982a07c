"""The marker T4 puts in every file it scaffolds, and how to read it back."""
# ``<!-- t4:scaffold template=module/README.md version=3 sha256=... -->`` (``# t4:scaffold ...`` in
# Python files). The hash covers the file's content without the marker line, so T4 can tell an
# untouched scaffold (a placeholder: no docs credit, safe to refresh) from a file a human edited.

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MARKER = re.compile(r"t4:scaffold template=(?P<template>\S+) version=(?P<version>\S+) sha256=(?P<sha>[0-9a-f]{64})")


@dataclass(frozen=True)
class Marker:
    template: str
    version: str
    sha256: str


def _body_hash(lines: list[str]) -> str:
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def stamp(text: str, template: str, version: str, python: bool = False) -> str:
    """``text`` with a marker line appended that records template, version and content hash."""
    body = text if text.endswith("\n") else text + "\n"
    tag = f"t4:scaffold template={template} version={version} sha256={_body_hash(body.splitlines(keepends=True))}"
    return body + (f"# {tag}\n" if python else f"<!-- {tag} -->\n")


def read(text: str) -> tuple[Marker | None, bool]:
    """The file's marker (or None) and whether the content is untouched since it was stamped."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        match = MARKER.search(line)
        if match:
            marker = Marker(match["template"], match["version"], match["sha"])
            rest = lines[:index] + lines[index + 1:]
            return marker, _body_hash(rest) == marker.sha256
    return None, False


def is_placeholder(text: str) -> bool:
    """True for a scaffolded file nobody has edited yet."""
    marker, untouched = read(text)
    return marker is not None and untouched
