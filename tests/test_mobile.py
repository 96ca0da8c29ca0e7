"""Fire modules and mobile networks (issue 13c): SqueezeNet and MobileNet v2 against
torchvision's models (params, and outputs after weight import), MobileNet v1 against a
hand-written PyTorch reference and the paper's Table 1 / Table 6 figures, the width
multiplier's rounding rules, and the new notations' IR."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import archdsl
from archdsl.analysis.count import count
from archdsl.builder.mobile import make_divisible
from archdsl.errors import ArchError
from archdsl.lowering import create_model, load_torchvision_weights
from conftest import torchvision_models
from test_weights import _randomise_bn, assert_imports_torchvision


def _tv(module: str):
    return torchvision_models(names=(module,))[module]


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _paper(spec, **params):
    return count(archdsl.load(spec, **params), convention="paper").total


# ---- torchvision: SqueezeNet 1.0 / 1.1, MobileNet v2 (at several widths) -------------------
TORCHVISION = [  # spec, -D values, torchvision module, constructor, its arguments
    ("squeezenet1_0", {}, "squeezenet", "squeezenet1_0", {}),
    ("squeezenet1_1", {}, "squeezenet", "squeezenet1_1", {}),
    ("mobilenet-v2", {}, "mobilenetv2", "mobilenet_v2", {}),
    ("mobilenet-v2", {"alpha": 0.5}, "mobilenetv2", "mobilenet_v2", {"width_mult": 0.5}),
    ("mobilenet-v2", {"alpha": 0.35}, "mobilenetv2", "mobilenet_v2", {"width_mult": 0.35}),
    ("mobilenet-v2-1.4", {}, "mobilenetv2", "mobilenet_v2", {"width_mult": 1.4}),
]
IDS = [f"{s}{''.join(f'-{k}{v}' for k, v in d.items())}" for s, d, *_ in TORCHVISION]


@pytest.mark.parametrize("spec, params, module, ctor, kwargs", TORCHVISION, ids=IDS)
def test_params_equal_torchvision(spec, params, module, ctor, kwargs):
    tv = getattr(_tv(module), ctor)(**kwargs)
    assert count(archdsl.load(spec, **params)).total.params == _params(tv)


@pytest.mark.parametrize("spec, params, module, ctor, kwargs",
                         [TORCHVISION[i] for i in (0, 1, 2, 3)], ids=[IDS[i] for i in (0, 1, 2, 3)])
def test_outputs_equal_torchvision_after_weight_import(spec, params, module, ctor, kwargs):
    torch.manual_seed(0)
    tv = getattr(_tv(module), ctor)(**kwargs).eval()
    ours = create_model(spec, **params).eval()
    # small, odd: SqueezeNet's ceil-mode pools keep a last window
    assert_imports_torchvision(ours, tv, torch.randn(2, 3, 67, 67))


def test_squeezenet_table1_sizes_and_fire_wiring():
    g = archdsl.load("squeezenet1_0")
    sizes = {st.name: g.node(st.nodes[-1]).shape for st in g.stages}
    assert sizes["conv1"] == (96, 111, 111) and sizes["maxpool1"] == (96, 55, 55)
    assert sizes["fire2"] == (128, 55, 55) and sizes["fire4"] == (256, 55, 55)
    assert sizes["maxpool8"] == (512, 13, 13) and sizes["fire9"] == (512, 13, 13)
    cat = g.node("fire2.0.concat")
    assert cat.op == "concat" and cat.inputs == ("fire2.0.expand1x1.relu1",
                                                  "fire2.0.expand3x3.relu1")
    assert g.node("fire2.0.expand3x3.conv1").inputs == ("fire2.0.squeeze.relu1",)
    assert dict(g.node("maxpool1.pool").attrs)["ceil_mode"] is True


# Table 1's "# parameter before pruning" column, layer by layer (total 1,248,424).
SQUEEZENET_TABLE1 = {"conv1": 14_208, "fire2": 11_920, "fire3": 12_432, "fire4": 45_344,
                     "fire5": 49_440, "fire6": 104_880, "fire7": 111_024, "fire8": 188_992,
                     "fire9": 197_184, "conv10": 513_000}


def test_squeezenet_table1_params_per_layer():
    rows = {r.name: r.params for r in count(archdsl.load("squeezenet1_0")).stages}
    assert {k: rows[k] for k in SQUEEZENET_TABLE1} == SQUEEZENET_TABLE1
    assert sum(rows.values()) == sum(SQUEEZENET_TABLE1.values())   # the pools add nothing


# ---- MobileNet v2's blocks ---------------------------------------------------------------
def test_inverted_residual_structure():
    g = archdsl.load("mobilenet-v2")
    ops = [(n.local_name, n.op) for n in g.nodes if n.block == "bottleneck2.0"]
    assert ops == [("conv1", "conv"), ("bn1", "bn"), ("relu1", "relu6"), ("conv2", "conv"),
                   ("bn2", "bn"), ("relu2", "relu6"), ("conv3", "conv"), ("bn3", "bn")]
    dw = g.node("bottleneck2.0.conv2")
    assert dict(dw.attrs)["groups"] == dw.shape[0] == 96 and dict(dw.attrs)["stride"] == (2, 2)
    adds = [n.name for n in g.nodes if n.op == "add"]
    # residual only where stride 1 and the channels are kept: n − 1 per row of Table 2
    assert len(adds) == (2 - 1) + (3 - 1) + (4 - 1) + (3 - 1) + (3 - 1)
    assert "bottleneck5.0.add" not in adds and "bottleneck5.1.add" in adds
    t1 = [n.local_name for n in g.nodes if n.block == "bottleneck1.0" and n.op == "conv"]
    assert t1 == ["conv1", "conv2"]   # t = 1: no expansion conv


# ---- MobileNet v1: a hand-written reference --------------------------------------------------
class MobileNetV1(nn.Module):
    """Howard et al. 2017, Table 1, written out by hand: conv-BN-ReLU, then 13 depthwise
    separable layers (3×3 dw conv-BN-ReLU, 1×1 conv-BN-ReLU), 7×7 average pool, fc. Widths
    × α rounded as the authors' TensorFlow code: max(int(c·α), 8)."""

    CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + \
        [(1024, 2), (1024, 1)]

    def __init__(self, alpha: float = 1.0, classes: int = 1000):
        super().__init__()
        c = lambda n: max(int(n * alpha), 8)  # noqa: E731

        def cbr(i, o, k, s, groups=1):
            return [nn.Conv2d(i, o, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(o),
                    nn.ReLU()]
        layers, i = cbr(3, c(32), 3, 2), c(32)
        for o, s in self.CFG:
            layers += cbr(i, i, 3, s, groups=i) + cbr(i, c(o), 1, 1)
            i = c(o)
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(i, classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.avg_pool2d(self.features(x), 7), 1))


@pytest.mark.parametrize("alpha", [1, 0.75, 0.5, 0.25, 0.3])
def test_mobilenet_v1_params_equal_the_reference(alpha):
    assert count(archdsl.load("mobilenet-v1", alpha=alpha)).total.params == \
        _params(MobileNetV1(alpha))


@pytest.mark.parametrize("alpha", [1])   # the thinned members: their params, below
def test_mobilenet_v1_outputs_equal_the_reference(alpha):
    torch.manual_seed(0)
    ref = MobileNetV1(alpha).eval()
    _randomise_bn(ref)
    ours = create_model("mobilenet-v1", alpha=alpha).eval()
    load_torchvision_weights(ours, ref.state_dict())   # pairs layers in order, by shape
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


# Table 6 (and Table 1's totals at α = 1): params in millions, mult-adds in millions.
PAPER_V1 = {1: (4.2, 569), 0.75: (2.6, 325), 0.5: (1.3, 149), 0.25: (0.5, 41)}


@pytest.mark.parametrize("alpha", sorted(PAPER_V1))
def test_mobilenet_v1_paper_table6(alpha):
    t = _paper("mobilenet-v1", alpha=alpha)
    params, macs = PAPER_V1[alpha]
    assert round(t.params / 1e6, 1) == params
    assert round(t.macs / 1e6) == macs


# Table 2 ("Resource per layer type"): % of mult-adds and % of parameters (weights: the
# fc's bias is not counted; BN has none here). The paper prints 1.19 % for the full 3×3
# conv: its column then sums to 99.29 %; 1.91 % (the digits swapped) makes it 100 %.
PAPER_V1_TABLE2 = {"1×1": (94.86, 74.59), "dw 3×3": (3.06, 1.06), "3×3": (1.91, 0.02),
                   "fc": (0.18, 24.33)}


def test_mobilenet_v1_paper_table2_resources_per_layer_type():
    g = archdsl.load("mobilenet-v1")
    rows = {r.name: r for r in count(g, convention="paper").layers}
    macs, params = {}, {}
    for n in g.nodes:
        a = dict(n.attrs)
        if n.op == "conv":
            kind = "dw 3×3" if a["groups"] > 1 else "×".join(map(str, a["kernel"]))
        elif n.op == "fc":
            kind = "fc"
        else:
            continue
        bias = a["out_features"] if n.op == "fc" and a["bias"] else 0
        macs[kind] = macs.get(kind, 0) + rows[n.name].macs
        params[kind] = params.get(kind, 0) + rows[n.name].params - bias
    got = {k: (round(100 * macs[k] / sum(macs.values()), 2),
               round(100 * params[k] / sum(params.values()), 2)) for k in macs}
    assert got == PAPER_V1_TABLE2


def test_mobilenet_v1_aliases_are_the_table6_members():
    assert count(archdsl.load("mobilenet-v1-0.5")).total.params == \
        count(archdsl.load("mobilenet-v1", alpha=0.5)).total.params


# ---- rounding rules --------------------------------------------------------------------------
@pytest.mark.parametrize("x, want", [(32 * 0.35, 16), (16 * 0.35, 8), (24 * 0.75, 24),
                                     (96 * 0.5, 48), (1280 * 1.4, 1792), (17.0, 16), (28.0, 32)])
def test_make_divisible_is_torchvisions(x, want):
    assert make_divisible(x, 8) == want == _tv("mobilenetv2")._make_divisible(x, 8)


NET = "network t\ninput 3×32×32\nparam alpha = 1\nwith width multiplier alpha{rule}\n" \
      "s1: 3×3, 20\ns2: conv dw / s1 3×3×20 dw\n    conv / s1 1×1×20×30\n"


@pytest.mark.parametrize("rule, alpha, widths", [
    ("", 0.5, [10, 10, 15]), (", round channels down", 0.3, [8, 8, 9]),
    (", round channels to 8", 0.3, [8, 8, 16]), (", round channels down", 0.3 + 1e-12, [8, 8, 9]), (", round channels to 8", 1.5, [32, 32, 48])])
def test_width_multiplier_rounding(rule, alpha, widths):
    g = archdsl.load(NET.format(rule=rule), alpha=alpha)
    assert [n.shape[0] for n in g.nodes if n.op == "conv"] == widths


def test_fraction_without_a_rule_is_an_error_naming_the_rules():
    with pytest.raises(ArchError, match="30 channels × width multiplier 0.55 = 16.5 is not a whole") \
            as e:
        archdsl.load(NET.format(rule=""), alpha=0.55)
    assert "round channels down" in e.value.hint and "round channels to 8" in e.value.hint


def test_width_multiplier_one_keeps_the_ir():
    plain = NET.replace("with width multiplier alpha{rule}\n", "")
    a, b = archdsl.load(NET.format(rule=""), alpha=1), archdsl.load(plain)
    assert [(n.name, n.attrs, n.shape) for n in a.nodes] == [(n.name, n.attrs, n.shape)
                                                             for n in b.nodes]
    assert a.settings == b.settings   # a default setting is absent, as before issue 13c


# ---- dilation, 3×3 dw ------------------------------------------------------------------------
def test_dilation_and_depthwise_modifier():
    g = archdsl.load("input 8×16×16\nc: 3×3, 8, dilation 2\nd: 3×3 dw, 8, stride 2\n")
    c, d = g.node("c.conv"), g.node("d.conv")
    assert dict(c.attrs)["dilation"] == (2, 2) and dict(c.attrs)["padding"] == (2, 2)
    assert c.shape == (8, 16, 16)
    assert dict(d.attrs)["groups"] == 8 and d.shape == (8, 8, 8)
    model = create_model(g)
    assert model(torch.randn(1, 8, 16, 16)).shape == (1, 8, 8, 8)


# ---- tables of family members round-trip ---------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_width_members_round_trip_through_tables(fmt):
    from archdsl.analysis.table import render_table
    from archdsl.analysis.table_read import parse_table
    from test_fmt import ir_key
    graphs = [archdsl.load("mobilenet-v1", alpha=0.5), archdsl.load("mobilenet-v2-1.4"),
              archdsl.load("squeezenet1_1")]
    back = parse_table(render_table(graphs, fmt, stacked=True))
    assert [ir_key(b) for b in back] == [ir_key(g) for g in graphs]


def test_relu6_setting_is_per_stage_and_keeps_names():
    g = archdsl.load("input 3×16×16\nwith relu6\na: 3×3, 8\nb:\n    with relu\n    3×3, 8\n"
                     "c: avg pool / s1 pool 16×16\n   fc / s1 8×10\n   softmax / s1 classifier\n")
    assert [(n.name, n.op) for n in g.nodes if n.name.endswith("relu")] == [
        ("a.relu", "relu6"), ("b.relu", "relu")]
    assert g.output_shape == (10,) and "paper_row" not in str(g)


@pytest.mark.parametrize("a, b", [
    ("bottleneck(6, 24, 2, 2)", "inverted residual(t=6, c=24, n=2, s=2)"),
    ("bottleneck(6, 24, 2, 2)", "bottleneck(6, 24, s=2, n=2)"),
    ("fire(16, 64, 64)", "fire(e3x3=64, s1x1=16, e1x1=64)")])
def test_block_word_spellings_mean_the_same(a, b):
    def nodes(row):
        g = archdsl.load(f"input 32×56×56\nwith batchnorm\nb 28×28: {row}\n")
        return [(n.name, n.op, n.inputs, n.attrs, n.shape) for n in g.nodes]
    assert nodes(a) == nodes(b)


def test_a_user_block_named_bottleneck_wins():
    g = archdsl.load("input 64×56×56\nblock bottleneck(c) = [1×1, c; 3×3, c; 1×1, 4*c]\n"
                     "s 56×56: bottleneck(64)\n")
    assert [n.op for n in g.nodes][-2:] == ["add", "relu"]


def test_cli_takes_a_fractional_define(capsys):
    from archdsl.cli.main import main
    assert main(["check", "mobilenet-v1", "-D", "alpha=0.75"]) == 0
    assert "mobilenet-v1-0.75" in capsys.readouterr().out   # the alias it is
    assert main(["check", "resnet-cifar", "-D", "n=2.5"]) == 2
    assert "repeat count must be a whole number, not 2.5" in capsys.readouterr().err
