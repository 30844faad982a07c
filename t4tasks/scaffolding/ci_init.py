"""``t4 ci_init``: write GitHub Actions workflows for T4 from ``templates/ci/*.yml.j2``."""
# Dry-run by default (``apply=False`` lists what would be written); an existing workflow file is
# never overwritten. A repository can override any template with its own ``templates/ci/<name>``.
#
# The templates use ``[[ var ]]`` / ``[% block %]`` / ``[# comment #]`` as Jinja delimiters, so
# GitHub's own ``${{ expression }}`` syntax is written as is and never needs escaping.

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from t4tasks.catalog import config as config_mod, templates
from t4tasks.speed import atomic

TEMPLATE_DIR = "ci"
SUFFIX = ".j2"
WORKFLOWS_DIR = ".github/workflows"

DEFAULTS: dict[str, Any] = {
    "python_version": "3.11",
    "runs_on": "ubuntu-latest",
    "shards": 4,
    "branch": "main",
    "cron": "17 3 * * *",        # nightly, off the hour (GitHub delays on-the-hour schedules)
    "timeout_minutes": 60,
}

PLAIN = re.compile(r"[A-Za-z0-9 ._/*+:\-\"'\[\]=]*")  # no newline, '#', '$', '`', '{', '&', '|', ';'
CREATE, WOULD_CREATE, KEPT = "created", "would create", "exists, kept"


def template_names(root: Path) -> list[str]:
    """Workflow templates: the repository's ``templates/ci`` first, then T4's packaged ones."""
    names = set()
    for folder in (Path(root) / "templates" / TEMPLATE_DIR, templates.packaged_dir() / TEMPLATE_DIR):
        if folder.is_dir():
            names.update(p.name for p in folder.glob(f"*.yml{SUFFIX}"))
    return sorted(names)


def _environment(root: Path):
    import jinja2

    return templates.sandboxed(
        loader=jinja2.FileSystemLoader([str(Path(root) / "templates" / TEMPLATE_DIR),
                                        str(templates.packaged_dir() / TEMPLATE_DIR)]),
        variable_start_string="[[", variable_end_string="]]",
        block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]",
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
    )


def install_commands(root: Path) -> list[str]:
    """How CI installs T4 (and the repository's own requirements, when it has a file of them)."""
    lines = ["python -m pip install --upgrade pip"]
    name = None
    try:
        name = tomllib.loads((Path(root) / "pyproject.toml").read_text("utf-8")).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, AttributeError):
        pass
    if name == "t4tasks":
        lines.append('python -m pip install -e ".[test]"')  # T4's own repository
    else:
        lines.append("python -m pip install t4tasks")
        if (Path(root) / "requirements.txt").is_file():
            lines.append("python -m pip install -r requirements.txt")
    return lines


def context(root: Path, **options: Any) -> dict[str, Any]:
    """The template variables: defaults, the repository's output folders, ``options`` on top."""
    unknown = sorted(set(options) - set(DEFAULTS) - {"install"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown ci_init option (known: {', '.join(sorted(DEFAULTS))}, install)")
    cfg = config_mod.load(Path(root))
    values = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    shards = values["shards"]
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 256:
        raise ValueError(f"shards: expected a whole number from 1 to 256, got {shards!r}")
    values.setdefault("install", install_commands(root))
    for key, value in [*values.items(), *(("state_dir", cfg.state_dir), ("ledger_dir", cfg.ledger_dir),
                                          ("generated_dir", cfg.generated_dir), ("trends_dir", cfg.trends_dir))]:
        # the values go into YAML and shell lines unquoted: plain words only
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not PLAIN.fullmatch(text):
                raise ValueError(f"{key}: {text!r} holds characters a workflow cannot take as they are "
                                 "(allowed: letters, digits, space and ._/*+:-\"'[]=)")
    return {
        **values,
        "shard_list": json.dumps(list(range(1, shards + 1))),
        "branches": json.dumps([values["branch"]]),
        "state_dir": cfg.state_dir, "ledger_dir": cfg.ledger_dir,
        "generated_dir": cfg.generated_dir, "trends_dir": cfg.trends_dir,
    }


def render(root: Path, **options: Any) -> dict[str, str]:
    """``{".github/workflows/<name>.yml": text}`` for every template."""
    env = _environment(root)
    values = context(root, **options)
    return {f"{WORKFLOWS_DIR}/{name.removesuffix(SUFFIX)}": env.get_template(name).render(**values)
            for name in template_names(root)}


def write(root: Path, apply: bool = False, **options: Any) -> list[tuple[str, str]]:
    """Write the workflows (or, without ``apply``, say what would be written)."""
    # Returns ``(repo-relative path, what happened)`` per workflow, sorted: ``created``, ``would
    # create`` (dry run) or ``exists, kept`` (never overwritten). ``options``: see DEFAULTS.
    root = Path(root)
    done = []
    for relpath, text in sorted(render(root, **options).items()):
        target = root / relpath
        if target.exists() or target.is_symlink():
            done.append((relpath, KEPT))
        elif apply:
            atomic.write_text(target, text)
            done.append((relpath, CREATE))
        else:
            done.append((relpath, WOULD_CREATE))
    return done


def task_ci_init():
    """Write GitHub Actions workflows for T4 into .github/workflows/ (dry run without --apply)."""
    from t4tasks.catalog.project import load_cached

    root = load_cached(os.getcwd()).root

    def action(apply: bool, shards: int, python: str):
        for relpath, what in write(root, apply=apply, shards=shards, python_version=python):
            print(f"{what:<13} {relpath}")
        if not apply:
            print("dry run: nothing written (add --apply to write)")

    return {
        "actions": [action],
        "uptodate": [False],
        "verbosity": 2,
        "params": [
            {"name": "apply", "long": "apply", "type": bool, "default": False,
             "help": "write the files (default: only list what would be written)"},
            {"name": "shards", "long": "shards", "type": int, "default": DEFAULTS["shards"],
             "help": "machines of the nightly matrix"},
            {"name": "python", "long": "python", "type": str, "default": DEFAULTS["python_version"],
             "help": "Python version for actions/setup-python"},
        ],
    }
