"""archdsl.analysis.count on hand-built graphs: rules, roll-ups, conventions, batch, re-inference."""
from __future__ import annotations

import dataclasses

import pytest

from archdsl.analysis.count import CONVENTIONS, COLUMNS, Counts, count, reinfer
from archdsl.errors import ArchError
from archdsl.ir.ops import OPS
from test_count_nets import tiny_alexnet, tiny_resnet, tiny_vgg

NETS = [tiny_resnet, tiny_alexnet, tiny_vgg]


def test_every_column_is_some_ops_and_every_op_column_is_reported():
    assert {spec.column for spec in OPS.values() if spec.column} == set(COLUMNS)


@pytest.mark.parametrize("make", NETS)
@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_rollups_sum_their_layers(make, convention):
    c = count(make(), convention=convention)
    for level in ("block", "stage"):
        groups = c.by(level)
        for g in groups:
            key = (lambda r: r.block or r.stage) if level == "block" else (lambda r: r.stage)
            members = [r for r in c.layers if key(r) == g.name]
            for f in ("params", "macs", "flops", "cost", *COLUMNS):
                assert getattr(g, f) == sum(getattr(r, f) for r in members), (g.name, f)
        for f in ("params", "macs", "flops", "cost", *COLUMNS):
            assert sum(getattr(g, f) for g in groups) == getattr(c.total, f)
    for level in ("layer", "block", "stage"):
        pct = c.percent(level)
        assert len(pct) == len(c.by(level))
        assert round(sum(pct), 6) == 100.0
        assert all(p >= 0 for p in pct)


def test_layer_figures_by_hand():
    c = count(tiny_resnet(), convention="full")
    row = {r.name: r for r in c.layers}
    conv = row["conv1.conv"]  # 3→4, 3×3, 18×18 output
    assert (conv.params, conv.macs, conv.flops) == (108, 4 * 18 * 18 * 27, 2 * 4 * 18 * 18 * 27)
    assert row["conv1.bn"].bn == 2 * 4 * 18 * 18 and row["conv1.bn"].params == 8
    assert row["conv1.relu"].relu == 4 * 18 * 18
    assert row["conv1.pool"].pool == 8 * 4 * 9 * 9  # 3×3 max: 8 comparisons per output
    assert row["conv3_x.0.conv2"].params == 4 * 2 * 9  # groups 2
    assert row["conv2_x.0.add"].add == 8 * 5 * 5
    assert row["head.pool"].pool == 16 * 3 * 3
    assert row["head.fc"].params == 16 * 10 + 10 and row["head.fc"].macs == 160
    assert row["head.softmax"].softmax == 30
    assert row["conv2_x.0.shortcut"].cost == 0
    assert conv.cost == conv.flops  # full: 2×MACs + elementwise (none for conv)
    assert row["conv1.bn"].cost == row["conv1.bn"].bn


def test_alexnet_like_rules():
    c = count(tiny_alexnet(), convention="full")
    row = {r.name: r for r in c.layers}
    assert row["conv1.lrn"].lrn == (5 + 4) * 8 * 15 * 15
    assert row["conv2.pool"].pool == 4 * 12 * 4 * 4  # 2×2 average: 4 per output
    # adaptive 4→3: windows [0,2) [1,3) [2,4) → 2+2+2 per axis
    assert row["conv3.pool"].pool == 12 * 6 * 6
    assert row["head.fc2"].params == 100  # no bias
    fv = {r.name: r for r in count(tiny_alexnet(), convention="fvcore").layers}
    assert fv["conv3.pool"].cost == 12 * 4 * 4  # fvcore: 1 per input element
    assert fv["conv1.lrn"].cost == 0 and fv["conv1.relu"].cost == 0


def test_conventions_relate():
    g = tiny_resnet()
    paper, fv, full = (count(g, convention=k).total for k in ("paper", "fvcore", "full"))
    assert paper.cost == paper.macs
    assert fv.cost == paper.macs + paper.bn + 16 * 3 * 3  # BN 2/element + GAP input
    assert full.cost == 2 * paper.macs + paper.elementwise
    assert paper.params == fv.params == full.params


def test_batch_scales_everything_but_params():
    g = tiny_alexnet()
    one, four = count(g, convention="full"), count(g, batch=4, convention="full")
    assert four.total.params == one.total.params
    for f in ("macs", "flops", "cost", *COLUMNS):
        assert getattr(four.total, f) == 4 * getattr(one.total, f)
    assert four.batch == 4


def test_other_input_size_reinfers_shapes():
    g = tiny_resnet()
    c = count(g, input=(3, 34, 34), convention="paper")
    assert c.input_shape == (3, 34, 34)
    assert {r.name: r for r in c.layers}["conv1.conv"].shape == (4, 34, 34)
    assert c.total.macs > count(g).total.macs
    assert reinfer(g, g.input_shape) == g.shapes
    assert count(g, input=g.input_shape) == count(g)


def test_fc_fixes_the_input_size():
    with pytest.raises(ArchError) as e:
        count(tiny_vgg(), input=(3, 12, 12))
    msg = e.value.render()
    assert "head.fc needs 64 input features (a 4×4×4 map)" in msg
    assert "3×12×12 gives 144 (4×6×6)" in msg and "3×8×8" in msg
    assert e.value.span is not None


def test_other_shape_errors_are_located():
    with pytest.raises(ArchError, match=r"at input 3×12×12, conv1.conv: 5×5 window"):
        count(tiny_alexnet(), input=(3, 12, 12))
    with pytest.raises(ArchError, match="expects 3 input channels"):
        count(tiny_resnet(), input=(1, 18, 18))


def test_bad_arguments():
    with pytest.raises(ArchError, match="unknown counting convention 'gflops'"):
        count(tiny_vgg(), convention="gflops")
    with pytest.raises(ArchError, match="batch"):
        count(tiny_vgg(), batch=0)


def test_counts_are_frozen_and_serialisable():
    import json
    c = count(tiny_resnet())
    assert isinstance(c, Counts)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.batch = 2  # type: ignore[misc]
    d = json.loads(json.dumps(c.as_dict()))
    assert d["convention"] == "fvcore" and d["description"] == CONVENTIONS["fvcore"]
    assert d["total"]["cost"] == c.total.cost and d["input_shape"] == [3, 18, 18]
    assert [s["name"] for s in d["stages"]] == ["conv1", "conv2_x", "conv3_x", "head"]
    assert [b["name"] for b in d["blocks"]] == ["conv1", "conv2_x.0", "conv3_x.0", "head"]
    assert len(d["layers"]) == len(tiny_resnet().nodes)
    assert d["blocks"][1]["block"] == "conv2_x.0" and d["blocks"][0]["block"] is None
