"""Rendering and the report command, on hand-built graphs behind a stand-in ``load``."""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import types

import pytest

from archdsl.cli import options, report_cmd
from archdsl.cli.main import main as cli_main
from archdsl.analysis.count import CONVENTIONS, count
from archdsl.errors import ArchError
from archdsl.analysis.report import cost_label, human, render
from test_count_nets import tiny_alexnet, tiny_resnet, tiny_vgg

NETS = {"tiny-resnet": tiny_resnet, "tiny-alexnet": tiny_alexnet, "tiny-vgg": tiny_vgg}


@pytest.fixture
def fake_api(monkeypatch):
    """Stand in for archdsl.api.load: name -> hand-built graph; ``width`` acts as a family knob."""
    calls = []

    def load(name, limits=None, **params):
        assert limits is not None, "report must pass its resource limits to load"
        calls.append((name, params))
        if name not in NETS:
            raise ArchError(f"no spec called {name!r}")
        return NETS[name](**params)
    monkeypatch.setitem(sys.modules, "archdsl.api", types.SimpleNamespace(load=load))
    return calls


def run(argv, capsys):
    status = cli_main(["report", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("convention", list(CONVENTIONS))
@pytest.mark.parametrize("level", ["layer", "block", "stage"])
def test_table_names_its_convention_and_totals(convention, level):
    c = count(tiny_resnet(), convention=convention)
    text = render(c, "table", level)
    assert cost_label(convention) in text and f"convention {convention}" in text
    assert CONVENTIONS[convention].split()[0] in text
    assert f"{c.total.cost:,}" in text and f"{c.total.params:,}" in text
    assert "conv2_x" in text and "100.0" in text


def test_csv_and_markdown_and_json():
    c = count(tiny_alexnet(), convention="full")
    rows = list(csv.DictReader(io.StringIO(render(c, "csv", "layer"))))
    assert len(rows) == len(c.layers) + 1 and rows[-1]["level"] == "total"
    assert all(r["convention"] == "full" for r in rows)
    # `flops` is the convention's figure (here full), not 2×MACs
    assert sum(int(r["flops"]) for r in rows[:-1]) == int(rows[-1]["flops"]) == c.total.cost
    assert sum(float(r["percent"]) for r in rows[:-1]) == pytest.approx(100.0)
    md = render(c, "markdown", "stage")
    assert md.count("\n| ") == len(c.stages) + 2 and "_full FLOPs" in md
    assert json.loads(render(c, "json"))["total"]["flops"] == c.total.cost


def test_human():
    assert human(3_857_973_248) == "3.86 G" and human(25_557_032) == "25.6 M" and human(999) == "999"


def test_define_values_are_parsed_not_evaluated():
    assert options.parse_define("n=9") == ("n", 9)
    assert options.parse_define("depths=3,4,6,3") == ("depths", (3, 4, 6, 3))
    assert options.parse_define("alpha=0.75") == ("alpha", 0.75)   # MobileNet's -D alpha
    for bad in ("n=9+1", "n=__import__('os')", "n=", "9=9", "n", "n=1.5.1", "n=a,b", "n=nan",
                "n=inf", "n=0x10"):
        with pytest.raises(ArchError):
            options.parse_define(bad)


def test_input_sizes():
    def shape(text, channels=3):
        return options.input_shape(options.parse_input(text), channels)
    assert shape("3x224x224") == (3, 224, 224)
    assert shape("224") == (3, 224, 224)
    assert shape("32x48", 1) == (1, 32, 48)
    assert shape("1×32×48") == shape("1x32x48") == shape("1X32X48") == (1, 32, 48)
    for bad in ("3x0x4", "3x224x224x2", "big", ""):
        with pytest.raises(ArchError):
            options.parse_input(bad)


def test_command_table(fake_api, capsys):
    status, out, _ = run(["tiny-resnet", "--by", "block", "--convention", "paper"], capsys)
    assert status == 0 and "conv2_x.0" in out and "MACs = paper FLOPs" in out


def test_command_input_batch_json(fake_api, capsys):
    status, out, _ = run(["tiny-resnet", "--input", "3x34x34", "--batch", "2", "--format", "json",
                          "-D", "width=8"], capsys)
    d = json.loads(out)
    assert status == 0 and d["input_shape"] == [3, 34, 34] and d["batch"] == 2
    assert fake_api == [("tiny-resnet", {"width": 8})]


def test_command_sweep(fake_api, capsys):
    status, out, _ = run(["tiny-resnet", "--sweep", "width=2,4,8", "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and [r["width"] for r in rows] == ["2", "4", "8"]
    assert [int(r["params"]) for r in rows] == [count(tiny_resnet(w)).total.params for w in (2, 4, 8)]
    status, out, _ = run(["tiny-resnet", "--sweep", "width=2,4"], capsys)
    assert "sweep width" in out and "depth" in out


def test_command_errors_exit_2(fake_api, capsys):
    status, _, err = run(["tiny-vgg", "--input", "3x12x12"], capsys)
    assert status == 2 and "head.fc needs 64 input features" in err
    status, _, err = run(["nope"], capsys)
    assert status == 2 and "no spec called 'nope'" in err
    status, _, err = run(["tiny-vgg", "-D", "n=os.system('x')"], capsys)
    assert status == 2 and "bad value" in err


def test_add_report_parser_registers_the_command():
    parser = argparse.ArgumentParser()
    report_cmd.add_report_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "resnet50", "-D", "n=3", "--by", "layer", "--verify"])
    assert args.func is report_cmd.run_report and args.define == ["n=3"] and args.verify


def test_report_never_imports_torch(tmp_path):
    """A whole report (all formats and levels) leaves torch out of sys.modules."""
    import subprocess
    from pathlib import Path
    tests = Path(__file__).parent
    code = f"""
import sys, types, io, contextlib
sys.path.insert(0, {str(tests)!r})
import test_count_nets as nets
sys.modules["archdsl.api"] = types.SimpleNamespace(load=lambda name, limits=None, **p: nets.tiny_resnet(**p))
from archdsl.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    for fmt in ("table", "json", "csv", "markdown"):
        for by in ("layer", "block", "stage"):
            assert main(["report", "x", "--format", fmt, "--by", by, "--convention", "full"]) == 0
    assert main(["report", "x", "--sweep", "width=2,4"]) == 0
print("torch" in sys.modules, "fvcore" in sys.modules)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("level, lists", [("stage", ["stages"]), ("block", ["stages", "blocks"]),
                                          ("layer", ["stages", "blocks", "layers"])])
def test_json_honours_by_and_is_compact(level, lists):
    """``report -f json`` writes the rows down to ``--by`` (stage by default), compactly."""
    from archdsl import load
    from archdsl.analysis.report import json_row
    c = count(load("resnet56"))
    text = render(c, "json", level)
    doc = json.loads(text)
    assert [k for k in doc if k.endswith("s") and isinstance(doc[k], list)] == lists
    for key in lists:
        assert doc[key] == [json_row(r) for r in getattr(c, key)]
    assert doc["total"] == json_row(c.total)
    # no indentation: the header line, then one line per row
    assert len(text.splitlines()) == 1 + sum(len(doc[k]) for k in lists)
    assert not any(line.startswith(" ") for line in text.splitlines())


def test_json_default_is_by_stage_on_the_command_line(capsys):
    assert cli_main(["report", "resnet20", "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "stages" in doc and "blocks" not in doc and "layers" not in doc
