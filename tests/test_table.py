"""Paper-style tables: render (text/markdown/latex, one or many columns), parse back to the
same IR, and read the ResNet and VGG Table 1 as printed in the papers."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

import archdsl
from archdsl.cli.main import main
from archdsl.analysis.count import count
from archdsl.errors import ArchError
from archdsl.analysis.table import FORMATS, render_table
from archdsl.analysis.table_read import parse_table

from conftest import SPECS
from test_fmt import ir_key, networks

HERE = os.path.dirname(__file__)
RESNETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
VGGS = ["vgg-a", "vgg-a-lrn", "vgg-b", "vgg-c", "vgg-d", "vgg-e"]


def totals(g):
    t = count(g, convention="paper").total
    return t.params, t.macs


@pytest.mark.parametrize("stacked", [False, True], ids=["inline", "stacked"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", SPECS, ids=os.path.basename)
def test_every_spec_round_trips_through_its_table(path, fmt, stacked):
    g = archdsl.load(path)
    [back] = parse_table(render_table(g, fmt, stacked=stacked))
    assert ir_key(back) == ir_key(g)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("family", [RESNETS, VGGS, ["resnet20", "resnet56", "plain-cifar"],
                                    ["alexnet", "vgg-a", "resnet-cifar"],   # no shared stages
                                    ["resnet50", "resnet50-v1.5", "vgg11-bn"],
                                    ["densenet121", "densenet169", "densenet201", "densenet161"],
                                    ["googlenet", "googlenet-paper", "densenet121"]],
                         ids=["resnet", "vgg", "cifar", "mixed", "mixed2", "densenet", "concat"])
def test_multi_column_tables_round_trip(family, fmt):
    graphs = [archdsl.load(n) for n in family]
    for stacked in (False, True):
        back = parse_table(render_table(graphs, fmt, stacked=stacked))
        assert [ir_key(b) for b in back] == [ir_key(g) for g in graphs]


def test_stacked_brackets_look_like_the_paper():
    lines = render_table([archdsl.load("resnet18"), archdsl.load("resnet50")], stacked=True).splitlines()
    i = next(k for k, l in enumerate(lines) if l.startswith("conv3_x"))
    cells = [[c.strip() for c in l.split("|")][2:] for l in lines[i:i + 3]]
    assert cells == [["[3×3, 128", "[1×1, 128"], ["3×3, 128] ×2", "3×3, 128"], ["", "1×1, 512] ×4"]]


def test_resnet_table_looks_like_the_paper():
    text = render_table([archdsl.load(n) for n in RESNETS])
    lines = text.splitlines()
    assert lines[0].split(" | ")[0].strip() == "layer name"
    assert [c.strip() for c in lines[0].split("|")][2:] == RESNETS
    conv4 = next(l for l in lines if l.startswith("conv4_x"))
    cells = [c.strip() for c in conv4.split("|")]
    assert cells[1] == "14×14"
    assert cells[2] == "[3×3, 256; 3×3, 256] ×2"
    assert cells[6] == "[1×1, 256; 3×3, 256; 1×1, 1024] ×36"
    flops = [c.strip() for c in next(l for l in lines if l.startswith("FLOPs")).split("|")][2:]
    assert flops == ["1.8×10⁹", "3.7×10⁹", "3.9×10⁹", "7.6×10⁹", "11.3×10⁹"]
    params = [c.strip() for c in next(l for l in lines if l.startswith("params")).split("|")][2:]
    assert params == ["11.7×10⁶", "21.8×10⁶", "25.6×10⁶", "44.5×10⁶", "60.2×10⁶"]
    assert "stride on 1×1" in next(l for l in lines if l.startswith("with"))


def test_markdown_and_latex_shapes():
    g = archdsl.load("resnet18")
    md = render_table(g, "markdown").splitlines()
    assert md[0] == "| layer name | output size | resnet18 |"
    assert any(l.startswith("| conv2_x | 56×56 | 3×3 max pool, stride 2<br>[3×3, 64; 3×3, 64] ×2 |")
               for l in md)
    tex = render_table(g, "latex")
    assert tex.startswith(r"\begin{tabular}") and tex.rstrip().endswith(r"\end{tabular}")
    assert r"conv2\_x & 56$\times$56 & 3$\times$3 max pool, stride 2 \\" in tex
    assert r"1.8$\times$10$^{9}$" in tex


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_generated_networks_round_trip(text):
    g = archdsl.load(text)
    for fmt in FORMATS:
        [back] = parse_table(render_table(g, fmt))
        assert ir_key(back) == ir_key(g)


def test_errors():
    with pytest.raises(ArchError):
        render_table(archdsl.load("resnet18"), "html")
    with pytest.raises(ArchError):
        render_table([], "text")
    with pytest.raises(ArchError):
        parse_table("")
    bad = render_table(archdsl.load("resnet18")).replace("7×7, 64, stride 2", "7×7, 64, stride 2, [")
    with pytest.raises(ArchError):
        parse_table(bad)


def test_cli_table(capsys):
    assert main(["table", "-f", "markdown", "resnet18", "resnet34"]) == 0
    out = capsys.readouterr().out
    assert out == render_table([archdsl.load("resnet18"), archdsl.load("resnet34")], "markdown")
    assert main(["table", "no-such-net"]) == 2


# ---- the papers' own tables ----------------------------------------------------------------
def paper(name):
    with open(os.path.join(HERE, "paper_tables", name), encoding="utf-8") as f:
        return f.read()


def test_resnet_table1_as_printed_builds_the_specs():
    # Prose of the paper: BN after every conv, option B, stride 2 on conv3_1/conv4_1/conv5_1
    # (the first 1×1 of a bottleneck), ImageNet input and classes.
    nets = parse_table(paper("resnet_table1.txt"), defaults="input 3×224×224\nclasses 1000\n"
                       "with shortcut B, batchnorm, relu after add, stride on 1×1")
    assert len(nets) == 5
    for g, ref in zip(nets, RESNETS):
        assert totals(g) == totals(archdsl.load(ref)), ref
        assert g.depth == int(ref[len("resnet"):])
    # the paper's FLOPs row (multiply-adds) to its printed precision, ±0.1 for its rounding
    printed = [1.8, 3.6, 3.8, 7.6, 11.3]
    for g, p in zip(nets, printed):
        assert abs(totals(g)[1] / 1e9 - p) <= 0.1


def test_resnet_table1_without_bn_differs():
    # the defaults matter: without batchnorm the parameter counts drop
    nets = parse_table(paper("resnet_table1.txt"), defaults="input 3×224×224\nclasses 1000\n"
                       "with shortcut B, relu after add, stride on 1×1")
    assert totals(nets[0])[0] < totals(archdsl.load("resnet18"))[0]


def test_vgg_table1_as_printed_builds_the_specs():
    nets = parse_table(paper("vgg_table1.txt"), defaults="classes 1000")
    assert [g.name for g in nets] == ["A", "A-LRN", "B", "C", "D", "E"]
    for g, ref in zip(nets, VGGS):
        assert totals(g) == totals(archdsl.load(ref)), ref
        assert g.input_shape == (3, 224, 224)
    assert [g.depth for g in nets] == [11, 11, 13, 16, 16, 19]
    # the paper's Table 2 parameter counts, in millions
    assert [round(totals(g)[0] / 1e6) for g in nets] == [133, 133, 133, 134, 138, 144]


def test_stage_named_like_a_footer_row_stays_a_stage():
    text = ("network odd\ninput 3×8×8\nclasses 2\nwith shortcut B\nFLOPs: 3×3, 4\n"
            "    3×3 max pool, stride 2\nparams: average pool, 2-d fc\n")
    g = archdsl.load(text)
    assert [s.name for s in g.stages] == ["FLOPs", "params"]
    for fmt in FORMATS:
        [back] = parse_table(render_table(g, fmt))
        assert ir_key(back) == ir_key(g)


def test_cli_table_with_a_family_parameter(capsys):
    assert main(["table", "resnet-cifar", "-D", "n=9"]) == 0
    out = capsys.readouterr().out
    [g] = parse_table(out)
    assert ir_key(g) == ir_key(archdsl.load("resnet-cifar", n=9))
    assert g.name == "resnet56" and g.param("n") == 9


def test_a_graph_without_source_is_refused():
    import dataclasses
    g = dataclasses.replace(archdsl.load("resnet18"), source="")
    with pytest.raises(ArchError, match="no spec text"):
        render_table(g)
