"""The wheel (issue 14): built from the repository, it carries every bundled spec and recipe,
and an installed copy run from outside the checkout finds them (list, check, build, a
named recipe). The wheel is unpacked, not pip-installed, so the test needs no network and
no second torch: the unpacked package comes first on the path, the venv's dependencies
after it. (.ci/run does the real thing: a fresh venv, pip install of the wheel.)"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

SOURCES = ("archdsl", "specs", "recipes", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel . --no-deps`` of a copy of the repository (the checkout stays clean)."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is needed to build the wheel offline")
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        p = ROOT / name
        if not p.exists():         # (an older tree without setup.py: the wheel lacks the data)
            continue
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "_bundled"))
        else:
            shutil.copy2(p, src / name)
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(out), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    [whl] = out.glob("archdsl-*.whl")
    return whl


def test_the_wheel_carries_every_spec_and_recipe(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    specs = {p.name for p in (ROOT / "specs").glob("*.arch") if not p.name.startswith(".")}
    recipes = {p.name for p in (ROOT / "recipes").glob("*.yaml")}
    assert specs and recipes
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("archdsl/_bundled/specs/")} == specs
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("archdsl/_bundled/recipes/")} == recipes
    assert "archdsl/lang/grammar.lark" in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Provides-Extra: train" in meta and "Provides-Extra: export" in meta
    assert 'scikit-learn>=1.3; extra == "train"' in meta and 'Pillow>=10; extra == "train"' in meta
    # no pin may pull another torch: the only torch requirement is the exact one
    torch_lines = [l for l in meta.splitlines() if l.startswith("Requires-Dist: torch")]
    assert [l.split(";")[0] for l in torch_lines] == ["Requires-Dist: torch==2.13.0",
                                                      "Requires-Dist: torchvision==0.28.0"]


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("ARCHDSL_SPECS", None)
    return subprocess.run([sys.executable, "-m", "archdsl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_an_installed_wheel_finds_its_specs_and_recipes_outside_the_repo(wheel, tmp_path):
    site, cwd = tmp_path / "site", tmp_path / "elsewhere"
    zipfile.ZipFile(wheel).extractall(site)
    cwd.mkdir()
    where = subprocess.run([sys.executable, "-c", "import archdsl; print(archdsl.__file__)"],
                           cwd=cwd, env={**os.environ, "PYTHONPATH": str(site)},
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(site))      # the unpacked wheel, not the checkout
    r = _run(site, cwd, "list")
    assert r.returncode == 0 and "resnet50 " in r.stdout and "resnet56 " in r.stdout, r.stderr
    from archdsl.api import list_specs     # this process: the checkout's own listing
    assert [l.split()[0] for l in r.stdout.splitlines()] == list(list_specs())
    r = _run(site, cwd, "check", "resnet50")
    assert r.returncode == 0 and r.stdout.startswith("ok  resnet50"), r.stderr
    r = _run(site, cwd, "build", "resnet152", "-o", str(tmp_path / "b"))
    assert r.returncode == 0 and (tmp_path / "b" / "model.py").is_file(), r.stderr
    r = _run(site, cwd, "--version")
    assert r.stdout.strip() == "archdsl 0.1.0"
    code = ("from archdsl.train.config import resolve_recipe; "
            "print(resolve_recipe('smoke'))")
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(site)}, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().startswith(str(site)), r.stderr
