"""Repositories in the layouts real projects use, each built from files in a temporary folder,
with what a maintainer expects ``t4 init`` to make of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.support import git_init, write

CODE = """\
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0


def total(values: Sequence[int]) -> int:
    return sum(values)


def never():
    return "not called by any test"
"""


def tests_of(module: str, marker: str = "") -> str:
    decorator = f"@pytest.mark.{marker}\n" if marker else ""
    return (f"import pytest\n\nfrom {module} import sign, total\n\n\n{decorator}def test_sign():\n"
            f"    assert sign(3) == 1\n    assert sign(0) == 0\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n")


@dataclass
class Expected:
    code: str                      # the folder coverage.py is pointed at
    pytest_args: list[str]         # how a maintainer runs this module's tests by hand
    omit: list[str] = field(default_factory=list)   # files under code that are not its source


@dataclass
class Layout:
    files: dict[str, str]
    modules: dict[str, Expected]
    coverage_config: str = ""      # the host's coverage rules, repeated in the hand-made run


def subpackages_with_tests() -> Layout:
    """(a) one library whose subpackages keep their own tests/ (the parent has its own too)."""
    files = {"lib/__init__.py": '"""Lib\n===\n\nThe library of record."""\n', "lib/core.py": CODE,
             "lib/tests/__init__.py": "", "lib/tests/test_core.py": tests_of("lib.core"),
             "lib/util/__init__.py": "", "lib/util/helpers.py": "def helper():\n    return 1\n"}
    for sub in ("alpha", "beta"):
        files |= {f"lib/{sub}/__init__.py": "", f"lib/{sub}/impl.py": CODE,
                  f"lib/{sub}/tests/__init__.py": "", f"lib/{sub}/tests/test_impl.py": tests_of(f"lib.{sub}.impl"),
                  f"lib/{sub}/tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef unused():\n    return 1\n"}
    return Layout(files, {
        "lib": Expected("lib", ["lib/tests"], ["lib/tests/__init__.py", "lib/tests/test_core.py", *(
            f"lib/{s}/{f}" for s in ("alpha", "beta") for f in
            ("__init__.py", "impl.py", "tests/__init__.py", "tests/test_impl.py", "tests/conftest.py"))]),
        "lib.alpha": Expected("lib/alpha", ["lib/alpha/tests"], ["lib/alpha/tests/__init__.py",
                              "lib/alpha/tests/test_impl.py", "lib/alpha/tests/conftest.py"]),
        "lib.beta": Expected("lib/beta", ["lib/beta/tests"], ["lib/beta/tests/__init__.py",
                             "lib/beta/tests/test_impl.py", "lib/beta/tests/conftest.py"]),
    })


def parallel_tests_tree() -> Layout:
    """(b) one package with a parallel tests/test_<sub>/ and tests/<sub>/ tree, root tests for the top."""
    files = {"svc/__init__.py": "", "svc/base.py": CODE, "svc/one/__init__.py": "", "svc/one/x.py": CODE,
             "svc/two/__init__.py": "", "svc/two/y.py": CODE,
             "tests/conftest.py": "", "tests/test_base.py": tests_of("svc.base"),
             "tests/test_one/test_x.py": tests_of("svc.one.x"), "tests/two/test_y.py": tests_of("svc.two.y")}
    return Layout(files, {
        "svc": Expected("svc", ["tests", "--ignore=tests/test_one", "--ignore=tests/two"],
                        ["svc/one/__init__.py", "svc/one/x.py", "svc/two/__init__.py", "svc/two/y.py"]),
        "svc.one": Expected("svc/one", ["tests/test_one"]),
        "svc.two": Expected("svc/two", ["tests/two"]),
    })


def uv_workspace() -> Layout:
    """(c) a uv workspace of distributions in src layout with a shared namespace package; the
    root pytest configuration puts each src/ on the path and registers a marker (strictly)."""
    pyproject = """\
[tool.uv.workspace]
members = ["packages/*"]

[tool.pytest.ini_options]
pythonpath = ["packages/alpha/src", "packages/beta/src"]
addopts = "-x --strict-markers -p no:randomly"
markers = ["slow: a slow test"]

[tool.coverage.report]
exclude_also = ["if TYPE_CHECKING:"]
"""
    files = {"pyproject.toml": pyproject}
    for dist in ("alpha", "beta"):
        files |= {f"packages/{dist}/pyproject.toml": f'[project]\nname = "acme-{dist}"\ndescription = "Acme {dist}."\n',
                  f"packages/{dist}/src/acme/{dist}/__init__.py": "", f"packages/{dist}/src/acme/{dist}/core.py": CODE,
                  f"packages/{dist}/tests/test_{dist}.py": tests_of(f"acme.{dist}.core", marker="slow")}
    return Layout(files, {
        f"acme_{d}": Expected(f"packages/{d}/src/acme/{d}", [f"packages/{d}/tests"]) for d in ("alpha", "beta")
    }, coverage_config="[report]\nexclude_also =\n    if TYPE_CHECKING:\n")


def django_apps() -> Layout:
    """(d) a Django-style project: manage.py, a settings package, apps with apps.py and tests."""
    files = {"manage.py": "import sys\n", "mysite/__init__.py": "", "mysite/settings.py": "INSTALLED_APPS = ['polls', 'blog']\n",
             "polls/__init__.py": "", "polls/apps.py": "class PollsConfig:\n    name = 'polls'\n",
             "polls/models.py": CODE, "polls/tests.py": tests_of("polls.models"),
             "blog/__init__.py": "", "blog/apps.py": "class BlogConfig:\n    name = 'blog'\n",
             "blog/views.py": CODE, "blog/tests/__init__.py": "", "blog/tests/test_views.py": tests_of("blog.views")}
    return Layout(files, {
        "blog": Expected("blog", ["blog/tests"], ["blog/tests/__init__.py", "blog/tests/test_views.py"]),
        "mysite": Expected("mysite", []),
        "polls": Expected("polls", ["polls/tests.py"], ["polls/tests.py"]),
    })


def top_level_packages() -> Layout:
    """(e) today's layout: top-level packages, tests inside one and in a parallel file for the other."""
    files = {"alpha/__init__.py": "", "alpha/core.py": CODE, "alpha/tests/test_core.py": tests_of("alpha.core"),
             "beta/__init__.py": "", "beta/core.py": CODE, "tests/test_beta.py": tests_of("beta.core"),
             "docs/conf.py": "project = 'x'\n", "scripts/tool.py": "print(1)\n"}
    return Layout(files, {
        "alpha": Expected("alpha", ["alpha/tests"], ["alpha/tests/test_core.py"]),
        "beta": Expected("beta", ["tests/test_beta.py"]),
    })


LAYOUTS = {"subpackages": subpackages_with_tests, "parallel-tree": parallel_tests_tree,
           "uv-workspace": uv_workspace, "django": django_apps, "top-level": top_level_packages}


def build(root: Path, layout: Layout) -> Path:
    """The layout's files committed to a fresh git repository (no manifests yet)."""
    for relpath, content in layout.files.items():
        write(root / relpath, content)
    return git_init(root)
