"""The wheel is what `pip install t4tasks` gives another repository: it must carry the templates
(which live at the top of the source tree) and the schemas, and find them without a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO, make_repo, manifest


@pytest.mark.slow
def test_wheel_ships_templates_and_schemas_and_works_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)],
                   check=True, capture_output=True)
    wheel = next(wheels.glob("t4tasks-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (REPO / "templates").rglob("*"):
        if template.is_file():
            assert f"t4tasks/templates/{template.relative_to(REPO / 'templates').as_posix()}" in names
    assert {"t4tasks/catalog/schema/module.manifest.schema.json", "t4tasks/catalog/schema/doc.frontmatter.schema.json"} <= names

    # unpacked elsewhere (no source tree next to it), the package renders from its own templates
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    repo = make_repo(tmp_path / "repo", {"alpha": manifest("alpha")})
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import t4tasks, t4tasks.catalog.templates as t; "
            "assert t4tasks.__file__.startswith(sys.argv[1]), t4tasks.__file__; "
            "from t4tasks import cli; sys.exit(cli.main(['--root', sys.argv[2], 'registry', 'docmap']))")
    done = subprocess.run([sys.executable, "-c", code, str(site), str(repo)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (Path(repo) / "docs/_generated/MODULE_INDEX.md").read_text().startswith("# Module index")
