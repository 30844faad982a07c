"""``t4 init`` (dry run) per layout: modules proposed and wall time, next to an import floor.

Usage: python benchmarks/bench_init.py [--repeat 3]

Builds, in a temporary folder, the five layouts of tests/scaffolding/layout_repos.py and three at
the sizes of the repositories issue 20 was found on: a library of 173 service packages with a
parallel tests/test_<service>/ tree, a library of 25 subpackages with their own tests/, and a uv
workspace of 28 src-layout distributions in one namespace package. Prints one row per layout: the
modules proposed, the median wall time of `t4 init`, and its ratio to `python -c "import t4tasks.cli"`
measured in the same run. The machine's 2 cores are shared: read the load average printed first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.scaffolding import layout_repos  # noqa: E402  (after the path is set)
from tests.support import git_init, write  # noqa: E402


def services(root: Path, count: int = 173) -> None:
    write(root / "lib/__init__.py", "")
    for i in range(count):
        write(root / f"lib/svc{i}/__init__.py", "")
        write(root / f"lib/svc{i}/client.py", layout_repos.CODE)
        write(root / f"tests/test_svc{i}/test_client.py", layout_repos.tests_of(f"lib.svc{i}.client"))


def subpackages(root: Path, count: int = 25) -> None:
    write(root / "lib/__init__.py", "")
    for i in range(count):
        write(root / f"lib/sub{i}/__init__.py", "")
        write(root / f"lib/sub{i}/impl.py", layout_repos.CODE)
        write(root / f"lib/sub{i}/tests/test_impl.py", layout_repos.tests_of(f"lib.sub{i}.impl"))


def workspace(root: Path, count: int = 28) -> None:
    write(root / "pyproject.toml", '[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    for i in range(count):
        write(root / f"packages/d{i}/pyproject.toml", f'[project]\nname = "acme-d{i}"\n')
        write(root / f"packages/d{i}/src/acme/d{i}/__init__.py", "")
        write(root / f"packages/d{i}/src/acme/d{i}/core.py", layout_repos.CODE)
        write(root / f"packages/d{i}/tests/test_core.py", layout_repos.tests_of(f"acme.d{i}.core"))


def t4(root: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent), "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "t4tasks.cli", "--root", str(root), *args],
                          capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - started, proc.stdout


def floor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import t4tasks.cli"], check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    builders = {name: (lambda root, make=make: [write(root / p, c) for p, c in make().files.items()])
                for name, make in layout_repos.LAYOUTS.items()}
    builders |= {"173 services, parallel tests/test_<svc>/": services,
                 "25 subpackages with own tests/": subpackages, "uv workspace, 28 distributions": workspace}
    base = floor()
    print(f"floor (python -c 'import t4tasks.cli'): {base:.2f} s\n")
    print(f"{'layout':<42} {'modules':>7} {'t4 init':>9} {'x floor':>8}")
    with tempfile.TemporaryDirectory(prefix="t4-bench-init-") as scratch:
        for name, build in builders.items():
            root = Path(scratch) / name.replace(" ", "_").replace("/", "_").replace(",", "")
            root.mkdir()
            build(root)
            git_init(root)
            times, out = [], ""
            for _ in range(options.repeat):
                elapsed, out = t4(root, "init")
                times.append(elapsed)
            modules = sum("→ code" in line for line in out.splitlines())
            median = statistics.median(times)
            print(f"{name:<42} {modules:>7} {median:>8.2f}s {median / base:>7.1f}x")


if __name__ == "__main__":
    main()
