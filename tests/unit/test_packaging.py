"""The built wheel carries everything a run needs outside a checkout: code, configs, notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest


@pytest.fixture(scope="module")
def wheel(repo_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "-w", str(out), str(repo_root)], capture_output=True, text=True, timeout=300,
        cwd=out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = out.glob("mapsage-*.whl")
    return path


def test_wheel_ships_configs_and_notebooks(wheel, repo_root):
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in [*repo_root.glob("mapsage/configs/**/*.py"),
                   *repo_root.glob("mapsage/notebooks/*.ipynb")]:
        assert str(source.relative_to(repo_root)) in names, source
    # the generated notebooks ship; their jupytext sources (top-level notebooks/) do not
    assert sorted(n for n in names if n.startswith("mapsage/notebooks/")) == sorted(
        f"mapsage/notebooks/{p.stem}.ipynb" for p in repo_root.glob("notebooks/*.py"))
    assert not any(n.startswith("notebooks/") for n in names)
    assert "envcheck/__init__.py" in names
    assert not any(n.startswith(("tests/", "kaggle/", "bench/")) for n in names)


def test_installed_wheel_imports_and_finds_its_data_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import mapsage, mapsage.training, mapsage.kaggle, mapsage.provision\n"
            "from mapsage.models import MODELS, config_for_model\n"
            "from mapsage.notebook.execute import DEFAULT_NOTEBOOK\n"
            "assert all(config_for_model(m).is_file() for m in MODELS)\n"
            "assert DEFAULT_NOTEBOOK.is_file()\n"
            "print(mapsage.__file__)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith(str(site)), proc.stdout
