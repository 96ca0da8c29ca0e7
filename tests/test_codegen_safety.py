"""Generated source cannot be made to run code by what a user names: a hostile spec file
name, network name, parameter or template gives a model.py that, when imported, runs
nothing; names that cannot be Python names are refused with an ArchError."""
from __future__ import annotations

import ast
import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import archdsl
from archdsl.cli.build_cmd import run_build
from archdsl.errors import ArchError
from archdsl.ir.yamlio import graph_to_yaml
from archdsl.lowering.codegen import generate_source

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = 'x""" + __import__("os").system("touch PWNED") + """'
HOSTILE_LINE = "x\n__import__('os').system('touch PWNED')\n#"


def _import_runs_nothing(model_py: Path) -> None:
    """Import ``model_py`` in a fresh interpreter whose cwd is its folder; no PWNED appears."""
    folder = model_py.parent
    code = "import sys; sys.path.insert(0, '.'); import model; model.build()"
    r = subprocess.run([sys.executable, "-I", "-c", code], cwd=folder, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not (folder / "PWNED").exists()


def test_hostile_spec_file_name(tmp_path):
    spec = tmp_path / f"{HOSTILE}.arch"
    shutil.copy(ROOT / "specs" / "resnet-cifar.arch", spec)
    out = tmp_path / "out"
    assert run_build(str(spec), out, params={"n": 1}) == 0
    source = (out / "model.py").read_text()
    assert repr(spec.name) in ast.get_docstring(ast.parse(source)) and str(tmp_path) not in source
    _import_runs_nothing(out / "model.py")


@pytest.mark.parametrize("name", [HOSTILE, HOSTILE_LINE])
def test_hostile_names_in_an_ir_file(name, tmp_path):
    doc = yaml.safe_load(graph_to_yaml(archdsl.load("resnet-cifar", n=1)))
    doc["name"] = name
    doc["file"] = name + ".arch"
    (tmp_path / "ir.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    with pytest.raises(ArchError, match="IR field 'name'.*not a network name"):
        archdsl.load(str(tmp_path / "ir.yaml"))   # the name would also be build/<name>
    doc["name"] = "hostile"
    (tmp_path / "ir.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    graph = archdsl.load(str(tmp_path / "ir.yaml"))   # the file field is only ever quoted
    # codegen is safe on its own too, for a graph made in Python with any name
    graph = dataclasses.replace(graph, name=name, params=((name, name),), settings=(("init", name),))
    (tmp_path / "model.py").write_text(generate_source(graph))
    _import_runs_nothing(tmp_path / "model.py")


def test_hostile_template_becomes_a_safe_class_name(tmp_path):
    graph = archdsl.load("resnet-cifar", n=1)
    nodes = tuple(dataclasses.replace(n, template=HOSTILE) if n.block else n for n in graph.nodes)
    source = generate_source(dataclasses.replace(graph, nodes=nodes))
    assert "class XImportOsSystemTouchPWNED(nn.Module):" in source
    (tmp_path / "model.py").write_text(source)
    _import_runs_nothing(tmp_path / "model.py")


@pytest.mark.parametrize("bad", ["conv 1", "forward", "class", "_private", "x'); import os; ('"])
def test_stage_names_that_are_not_python_names_are_refused(bad):
    graph = archdsl.load("resnet-cifar", n=1)
    old = graph.stages[0].name
    stages = (dataclasses.replace(graph.stages[0], name=bad), *graph.stages[1:])
    nodes = tuple(dataclasses.replace(n, stage=bad) if n.stage == old else n for n in graph.nodes)
    with pytest.raises(ArchError, match="cannot be written as a Python name"):
        generate_source(dataclasses.replace(graph, stages=stages, nodes=nodes))


def test_reserved_names_cover_every_nn_module_attribute():
    """codegen refuses nn.Module's attribute names without importing torch; hold its list to
    the torch actually installed."""
    from torch import nn

    from archdsl.lowering.codegen_items import MODULE_ATTRIBUTES
    public = {n for n in dir(nn.Module) if not n.startswith("_")} | set(vars(nn.Module()))
    assert public - {n for n in public if n.startswith("_")} <= MODULE_ATTRIBUTES
