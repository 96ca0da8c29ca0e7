"""``archdsl build``: files written atomically, IR YAML round trip, report, export, CLI args."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from archdsl import api
from archdsl.atomic import write_text as write_atomic
from archdsl.cli.build_cmd import add_build_parser, run_build
from archdsl.errors import ArchError
from archdsl.ir.yamlio import graph_from_yaml
from conftest import ROOT
from test_count_nets import tiny_resnet

FILES = {"model.py", "ir.yaml", "report.json"}


def _check_dir(out: Path, graph) -> dict:
    assert {p.name for p in out.iterdir()} >= FILES
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    back = graph_from_yaml((out / "ir.yaml").read_text())
    assert back == graph
    compile((out / "model.py").read_text(), "model.py", "exec")
    return json.loads((out / "report.json").read_text())


def test_build_hand_graph_with_pt2_export(tmp_path, capsys):
    import torch

    g = tiny_resnet()
    assert run_build(g, tmp_path, export="pt2") == 0
    report = _check_dir(tmp_path, g)
    assert report["params"] == 1_558 and report["output_shape"] == [10]
    assert report["counts"]["total"]["params"] == 1_558
    ep = torch.export.load(str(tmp_path / "model.pt2"))
    assert tuple(ep.module()(torch.randn(1, 3, 18, 18)).shape) == (1, 10)
    shown = capsys.readouterr().out
    assert "1,558" in shown and "model.py" in shown and "3×18×18 → 10" in shown


def test_onnx_without_the_package_is_a_clear_error(tmp_path, capsys):
    try:
        import onnx  # noqa: F401
        pytest.skip("onnx is installed")
    except ImportError:
        pass
    from archdsl.cli.main import main
    from archdsl.lowering.export import ExportUnavailable
    with pytest.raises(ExportUnavailable) as e:
        run_build(tiny_resnet(), tmp_path / "o", export="onnx")
    assert isinstance(e.value, ArchError) and "pip install 'archdsl[export]'" in e.value.render()
    assert not (tmp_path / "o").exists()  # refused before writing anything
    assert main(["build", "resnet20", "-o", str(tmp_path / "o"), "--export", "onnx"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("<command line>:1:1: error: --export onnx needs onnx: pip install")
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_write_atomic_replaces_and_leaves_nothing(tmp_path):
    p = tmp_path / "f.txt"
    write_atomic(p, "one")
    write_atomic(p, "two")
    assert p.read_text() == "two" and [x.name for x in tmp_path.iterdir()] == ["f.txt"]


def test_parser_reads_defines_safely():
    ap = argparse.ArgumentParser()
    add_build_parser(ap.add_subparsers(dest="command"))
    args = ap.parse_args(["build", "resnet-cifar", "-o", "out", "-D", "n=9", "-D",
                          "depths=3,4,6,3", "--export", "pt2"])
    assert (args.spec, args.out, args.export) == ("resnet-cifar", "out", "pt2")
    from archdsl.cli.options import parse_define

    assert dict(parse_define(d) for d in args.define) == {"n": 9, "depths": (3, 4, 6, 3)}
    with pytest.raises(ArchError):
        parse_define("n=__import__('os')")
    with pytest.raises(SystemExit):
        ap.parse_args(["build", "x", "--export", "tflite"])


def test_build_does_not_import_torch_without_export(tmp_path):
    code = ("import sys; sys.path.insert(0, 'tests'); from test_count_nets import tiny_vgg; "
            "from archdsl.cli.build_cmd import run_build; "
            f"run_build(tiny_vgg(), {str(tmp_path)!r}); sys.exit('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ---- real specs -------------------------------------------------------------------------

def test_build_resnet152(tmp_path):
    spec = ROOT / "specs" / "resnet152.arch"
    assert run_build(str(spec), tmp_path) == 0
    graph = api.load(str(spec))
    report = _check_dir(tmp_path, graph)
    assert report["params"] == 60_192_808
    assert api.load(str(tmp_path / "ir.yaml")) == graph  # archdsl.load reads the IR back


def test_build_default_dir_and_spec_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_build("resnet-cifar", params={"n": 3}) == 0
    name = api.load("resnet-cifar", n=3).name
    assert {p.name for p in (tmp_path / "build" / name).iterdir()} == FILES
    with pytest.raises(ArchError):
        run_build("resnet-cifar", params={"no_such_param": 1})
