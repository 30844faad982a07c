"""``t4``: doit over T4's task creators, for any repository.

``t4 [--root DIR] [doit command] [tasks...] [doit options]`` — everything after ``--root`` is
handed to doit unchanged, so every doit command and option works (``list``, ``info``, ``forget``,
``-n 4``, ``--continue``, ...). ``--root`` defaults to the current directory.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from . import __version__, tasks
from .config import ConfigError

USAGE = f"""t4 {__version__}: module-quality pipeline for Python monorepos (a doit DAG)

usage: t4 [--root DIR] [doit command] [tasks...] [doit options]

  --root DIR   repository to work on (default: the current directory)

Common commands:
  t4                     run the default tasks ({', '.join(tasks.DEFAULT_TASKS)})
  t4 list                list T4's tasks for this repository
  t4 registry docmap     build docs/_generated/MODULE_REGISTRY.json and the documentation map
  t4 check_manifests     report every manifest problem (exit 1 when any)
  t4 info registry       why a task would (not) run
  t4 forget              forget doit's state (everything reruns)
  t4 -n 4 ...            run up to 4 tasks in parallel

Configuration: [tool.t4] in the repository's pyproject.toml (see README).
The rest of this help is doit's own.
"""


def split_root(argv: list[str]) -> tuple[Path, list[str]]:
    """Take ``--root DIR`` / ``--root=DIR`` out of argv, wherever it appears."""
    root, rest, args = Path.cwd(), [], iter(argv)
    for arg in args:
        if arg == "--root":
            value = next(args, None)
            if value is None:
                raise SystemExit("t4: --root needs a directory")
            root = Path(value)
        elif arg.startswith("--root="):
            root = Path(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    return root, rest


def _sigterm_as_interrupt(signum, frame):
    """A cancelled CI job sends SIGTERM: treat it as Ctrl-C so doit saves its state."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    root, doit_args = split_root(list(sys.argv[1:] if argv is None else argv))
    if not root.is_dir():
        print(f"t4: --root {root}: not a directory", file=sys.stderr)
        return 2
    if doit_args[:1] in (["--help"], ["-h"], ["help"]) and len(doit_args) == 1:
        print(USAGE)
    os.chdir(root)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        project = tasks.current()
        namespace = {name: getattr(tasks, name) for name in dir(tasks) if name.startswith("task_")}
        namespace["DOIT_CONFIG"] = tasks.doit_config(project)
    except ConfigError as exc:
        print(f"t4: {exc}", file=sys.stderr)
        return 2
    # config_filenames=(): the target repository's own [tool.doit] must not change T4's behaviour
    return DoitMain(ModuleTaskLoader(namespace), config_filenames=()).run(doit_args)


if __name__ == "__main__":
    sys.exit(main())
