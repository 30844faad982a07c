"""``t4``: doit over T4's task creators, for any repository."""
# ``t4 [--root DIR] [doit command] [tasks...] [doit options]`` — everything after ``--root`` is
# handed to doit unchanged, so every doit command and option works (``list``, ``info``, ``forget``,
# ``-n 4``, ``--continue``, ...). ``--root`` defaults to the current directory.

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from doit.cmd_base import ModuleTaskLoader
from doit.cmd_info import Info
from doit.cmd_run import Run
from doit.doit_cmd import DoitMain
from doit.exceptions import InvalidCommand

from t4tasks import __version__, headstart, tasks
from t4tasks.catalog.config import ConfigError
from t4tasks.catalog.project import load_cached
from t4tasks.checks import changes
from t4tasks.ledgers import shard
from t4tasks.measure import children
from t4tasks.speed import digests, forked, state

USAGE = f"""t4 {__version__}: module-quality pipeline for Python monorepos (a doit DAG)

usage: t4 [--root DIR] [doit command] [tasks...] [doit options]

  --root DIR            repository to work on (default: the current directory)
  --shard I/N           measure only shard I of N (balanced by recorded durations); records
                        go to .t4/fragments/ until `t4 merge .t4/fragments/*.ndjson`
  --changed-since REF   only modules whose code, tests or manifest changed since git REF
                        (committed or not); a shared file (root conftest.py, pyproject.toml)
                        marks every module changed

Common commands:
  t4                     measure what is stale ({', '.join(tasks.MEASURE_TASKS)}), then validate
  t4 coverage -n 4       measure coverage of every stale module, 4 at a time
  t4 coverage:NAME       measure one module
  t4 validate            rebuild derived files and run every check (never measures)
  t4 coverage_gate --changed-since main   gate only modules changed since main
  t4 smoke --changed-since main           import + smoke tests of changed modules
  t4 tests_fast                           each module's tests except integration ones
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
    """Take T4's own options (``--root``, ``--changed-since``) out of argv, wherever they appear."""
    root, rest, args = Path.cwd(), [], iter(argv)
    for arg in args:
        name, _, attached = arg.partition("=")
        if name in ("--root", "--changed-since"):
            value = attached or next(args, None)
            if not value:
                raise SystemExit(f"t4: {name} needs a value")
            if name == "--root":
                root = Path(value)
            else:  # every per-module task, gate and scaffolder honours T4_CHANGED_SINCE
                os.environ[tasks.CHANGED_SINCE_ENV] = value
        else:
            rest.append(arg)
    return root, rest


def _run_options() -> dict[str, bool]:
    """doit ``run`` options by spelling → whether they take a value."""
    spellings = {}
    for opt in Run.cmd_options:
        takes_value = opt.get("type") is not bool
        if opt.get("short"):
            spellings["-" + opt["short"]] = takes_value
        if opt.get("long"):
            spellings["--" + opt["long"]] = takes_value
    return spellings


def split_run_args(args: list[str]) -> tuple[list[str], list[str], list[str]] | None:
    """``(command, run options, the rest)`` for a run; None for other doit commands."""
    commands = {cmd.get_name() for cmd in DoitMain.DOIT_CMDS}
    if args and args[0] in commands and args[0] != "run":
        return None  # list, info, forget, ...: nothing to reorder
    head = args[:1] if args[:1] == ["run"] else []
    spellings = _run_options()
    options, others, items = [], [], iter(args[len(head):])
    for arg in items:
        name = arg.split("=", 1)[0]
        if name in spellings:
            options.append(arg)
            if spellings[name] and "=" not in arg:
                options.extend(value for value in [next(items, None)] if value is not None)
        elif not arg.startswith("--") and arg[:2] in spellings and spellings[arg[:2]]:
            options.append(arg)  # attached short value: -n4
        else:
            others.append(arg)
    return head, options, others


def hoist_run_options(args: list[str]) -> list[str]:
    """Allow ``t4 coverage bench -n 4``."""
    # Doit reads options after a task name as that task's own parameters, so doit's ``run`` options
    # found there are moved in front of the task names.
    split = split_run_args(args)
    return args if split is None else split[0] + split[1] + split[2]


def _sigterm_as_interrupt(signum, frame):
    """A cancelled CI job sends SIGTERM."""
    # stop the measurements in flight: they run in process groups of their own, out of the signal's reach
    children.kill_all()
    raise Terminated  # treated as Ctrl-C, so doit saves its state


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (doit saves its state for both)."""


class _Info(Info):
    """doit's ``info``, with an unknown task name as one line instead of a KeyError."""

    name = "info"

    def _execute(self, pos_args, hide_status=False):
        known = {t.name for t in self.task_list}
        for name in pos_args:
            if name not in known:
                raise InvalidCommand(f"info: no task named {name!r} (see `t4 list`)")
        return super()._execute(pos_args, hide_status)


class _Main(DoitMain):
    DOIT_CMDS = tuple(_Info if cmd is Info else cmd for cmd in DoitMain.DOIT_CMDS)


def main(argv: list[str] | None = None) -> int:
    """``t4 ARGS``: the exit code; an interruption (Ctrl-C, SIGTERM) is one line, no traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        print(f"t4: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}; what finished is "
              "saved, run again to continue", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:
        # the reader went away (`t4 list | head`): stop quietly, as commands in a pipe do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _main(argv: list[str] | None) -> int:
    # A run builds large trees of parsed JSON (memos, doit's state, ledgers) and makes almost no
    # reference cycles: at the default threshold the cyclic collector walks those trees again
    # every 700 allocations. Collect far less often (mypy does the same); peak memory stays
    # within the budget that bench_pipeline.py measures.
    gc.set_threshold(100_000, 50, 100)
    root, doit_args = split_root(list(sys.argv[1:] if argv is None else argv))
    try:
        spec, doit_args = shard.split_arg(doit_args)
    except shard.ShardError as exc:
        print(f"t4: {exc}", file=sys.stderr)
        return 2
    if spec is not None:
        os.environ[shard.ENV] = spec
    if not root.is_dir():
        print(f"t4: --root {root}: not a directory", file=sys.stderr)
        return 2
    ref = os.environ.get(tasks.CHANGED_SINCE_ENV)
    if ref:
        try:
            changes.verify_ref(root, ref)
        except changes.ChangesError as exc:
            print(f"t4: {exc}", file=sys.stderr)
            return 2
    if doit_args in (["--help"], ["-h"], ["help"], ["--version"]):
        if doit_args != ["--version"]:
            print(USAGE)
        # no task is named: the repository is not read (outside one, reading it could take minutes)
        return _Main(ModuleTaskLoader({}), config_filenames=()).run(doit_args)
    doit_args = task_help(doit_args)
    os.chdir(root)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    split = split_run_args(doit_args)
    wrong = process_count_error(split[1]) if split is not None else None
    if wrong is not None:
        print(f"t4: {wrong}", file=sys.stderr)
        return 2
    try:
        if split is not None and not split[2]:
            if spec is not None:  # a shard measures only: its records wait in a fragment for `t4 merge`
                return _doit([*split[1], *tasks.MEASURE_TASKS], tasks.MEASURE_TASKS)
            return _measure_then_validate(split[1])
        wanted = requested_tasks(split[2]) if split is not None else None
        if wanted and "validate" in wanted and set(wanted) & set(tasks.SHOW_TASKS):
            return _validate_then_show(split[1], split[2])
        # with every creator loaded, a run that names validate may still validate
        validates = split is not None and "validate" in (wanted or split[2])
        return _doit(hoist_run_options(doit_args), wanted, validates)
    except ConfigError as exc:
        print(f"t4: {exc}", file=sys.stderr)
        return 2


def process_count_error(options: list[str]) -> str | None:
    """What is wrong with a ``-n``/``--process`` value among doit's run ``options``; None if fine."""
    values, items = [], iter(options)
    for option in items:
        name, eq, attached = option.partition("=")
        if name in ("-n", "--process"):
            values.append(attached if eq else next(items, ""))
        elif option.startswith("-n") and not option.startswith("--"):
            values.append(option[2:])
    for value in values:
        try:
            if int(value) >= 1:
                continue
        except ValueError:
            pass
        return f"-n {value}: the number of parallel tasks must be a whole number of at least 1"
    return None


def task_help(args: list[str]) -> list[str]:
    """``t4 TASK --help`` (or ``-h``) as ``t4 help TASK`` for T4's own tasks."""
    # Doit would reject ``--help`` as an unknown task parameter.
    if not any(a in ("--help", "-h") for a in args):
        return args
    words = [a for a in args if not a.startswith("-")]
    known = {name.removeprefix("task_") for name in dir(tasks) if name.startswith("task_")}
    if words and words[0] != "help" and words[0].split(":", 1)[0] in known:
        return ["help", words[0].split(":", 1)[0]]
    return args


def requested_tasks(words: list[str]) -> list[str] | None:
    """The task names a run asks for, or None (load every task creator) when that cannot be told for sure."""
    # Loading only what a run needs keeps ``t4 registry`` fast on large repositories: doit calls
    # every creator it is given, and per-module creators cost time per module.
    known = {name.removeprefix("task_") for name in dir(tasks) if name.startswith("task_")}
    names = []
    for word in words:
        if word.startswith("-"):
            return None  # a task's own options: its values could look like task names
        base = word.split(":", 1)[0]
        if base not in known:
            return None
        names.append(base)
        if base == "merge":
            break  # the rest are fragment paths
    return names or None


def _namespace(wanted: list[str] | None = None, validates: bool = False) -> dict:
    project = tasks.current()
    names = tasks.creators_for(wanted) if wanted else {n.removeprefix("task_") for n in dir(tasks) if n.startswith("task_")}
    namespace = {f"task_{name}": getattr(tasks, f"task_{name}") for name in names}
    namespace["DOIT_CONFIG"] = tasks.doit_config(project)
    if validates:
        headstart.expect(project)
        # the plan the creators declare from, made before doit loads them: when it is new, work
        # that reads only inputs begins now in children (see headstart)
        tasks.plan(project, made=lambda: headstart.plan_made(project))
    return namespace


def _doit(args: list[str], wanted: list[str] | None = None, validates: bool = False) -> int:
    """One doit run of ``args`` over the creators of ``wanted`` (all when None)."""
    # The run memory (see digests) relies on T4's state backend to say when each task ends: with
    # another backend the run stats every file each time it needs it.
    memory = digests.run_scope() if not _other_backend(args) else contextlib.nullcontext()
    with memory, forked.reaping():
        # inside the run memory: the plan's keys take clean files' ids from the listing, unstat'ed
        namespace = _namespace(wanted, validates)
        # config_filenames=(): the target repository's own [tool.doit] must not change T4's behaviour.
        return _Main(ModuleTaskLoader(namespace), config_filenames=(), extra_config=state.PLUGIN).run(args)


def _other_backend(args: list[str]) -> bool:
    """Whether doit is told to use a state backend of its own (``--backend dbm``)."""
    return any(a.split("=", 1)[0] == "--backend" for a in args)


def _measure_then_validate(options: list[str]) -> int:
    """The default run in two doit runs."""
    # Validate reads what measurement recorded, and doit cannot order two independent branches of
    # one run (with -n they would interleave).
    measured = _doit([*options, *tasks.MEASURE_TASKS], tasks.MEASURE_TASKS)
    load_cached.cache_clear()  # manifests and ledgers changed: load them again
    validated = _doit([*options, "validate"], ["validate"], validates=True)
    load_cached.cache_clear()  # the report changed: the pictures show it
    shown = _doit([*options, *tasks.SHOW_TASKS], tasks.SHOW_TASKS)
    return max(measured, validated, shown)


def _validate_then_show(options: list[str], words: list[str]) -> int:
    """``t4 validate dashboard``."""
    # The pictures are drawn in a second doit run, so they read the report that validate has just
    # written, not the one there was when the tasks were created.
    first = [w for w in words if w.split(":", 1)[0] not in tasks.SHOW_TASKS]
    shows = [w for w in words if w.split(":", 1)[0] in tasks.SHOW_TASKS]
    validated = _doit([*options, *first], requested_tasks(first), validates=True)
    load_cached.cache_clear()  # the report changed: the pictures show it
    shown = _doit([*options, *shows], requested_tasks(shows))
    return max(validated, shown)


def run() -> NoReturn:
    """The ``t4`` command: ``main()``, then an exit without the interpreter's teardown."""
    code = main() or 0  # doit commands such as forget return None, as sys.exit() allows
    # exit handlers still run: coverage.py saves a measured subprocess's data in one
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: nothing more can be said
    # No interpreter teardown (mypy exits the same way): a large run holds much parsed JSON that an
    # orderly shutdown frees object by object just before the OS takes it back at once (see
    # docs/PERFORMANCE.md).
    os._exit(code)


if __name__ == "__main__":
    run()
