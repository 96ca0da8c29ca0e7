"""Meaning of the paper notations: each row becomes the nodes the papers describe."""
import pytest

from archdsl import load
from archdsl.errors import ArchError, ArchErrors


def net(body: str, input="3×224×224", classes=None, head="", extra=""):
    text = f"network t\ninput {input}\n" + (f"classes {classes}\n" if classes else "") + extra + body
    return load(text + ("\n" + head if head else "") + "\n")


def convs(g):
    return [n for n in g.nodes if n.op == "conv"]


def a(node):
    return dict(node.attrs)


# ---- VGG ------------------------------------------------------------------------------
def test_vgg_conv3_64():
    (c,) = convs(net("s: conv3-64"))
    assert a(c)["kernel"] == (3, 3) and a(c)["out_channels"] == 64
    assert a(c)["padding"] == (1, 1) and a(c)["stride"] == (1, 1)
    assert c.shape == (64, 224, 224)


def test_vgg_conv1_256():
    (c,) = convs(net("s: conv1-256"))
    assert a(c)["kernel"] == (1, 1) and a(c)["padding"] == (0, 0) and c.shape[0] == 256


@pytest.mark.parametrize("rep", ["conv3-64 ×2", "conv3-64 x2", "conv3-64 x 2", "conv3-64 × 2",
                                 "conv3-64 X2"])
def test_vgg_repeat(rep):
    g = net(f"s: {rep}")
    assert [n.name for n in convs(g)] == ["s.conv1", "s.conv2"]
    assert a(convs(g)[1])["in_channels"] == 64


def test_vgg_maxpool_is_2x2_stride_2():
    g = net("s: conv3-64, maxpool")
    (p,) = [n for n in g.nodes if n.op == "maxpool"]
    assert a(p)["kernel"] == (2, 2) and a(p)["stride"] == (2, 2) and p.shape == (64, 112, 112)


def test_vgg_lrn_fc_softmax():
    g = net("s: conv3-64, LRN, maxpool\nh: flatten, FC-4096, dropout 0.5, FC-4096, FC-1000, soft-max",
            input="3×32×32", classes=1000)
    ops = [n.op for n in g.nodes]
    assert ops == ["conv", "relu", "lrn", "maxpool", "flatten", "fc", "relu", "dropout", "fc",
                   "relu", "fc", "softmax"]
    fcs = [n for n in g.nodes if n.op == "fc"]
    assert [n.shape for n in fcs] == [(4096,), (4096,), (1000,)]
    assert a(fcs[0])["in_features"] == 64 * 16 * 16
    assert g.depth == 4


@pytest.mark.parametrize("word", ["fc-4096", "FC-4096", "Fc-4096"])
def test_case_forgiving_fc(word):
    g = net(f"s: {word}", input="3×1×1")
    assert g.nodes[-1].shape == (4096,) or g.nodes[-2].shape == (4096,)


@pytest.mark.parametrize("word", ["Conv3-64", "CONV3-64", "conv3-64"])
def test_case_forgiving_conv(word):
    (c,) = convs(net(f"s: {word}"))
    assert a(c)["out_channels"] == 64


@pytest.mark.parametrize("word", ["MAXPOOL", "MaxPool", "maxpool", "max pool", "Max Pool"])
def test_case_forgiving_pool(word):
    g = net(f"s: conv3-8, {word}")
    assert [n for n in g.nodes if n.op == "maxpool"][0].shape == (8, 112, 112)


# ---- ResNet -----------------------------------------------------------------------------
def test_resnet_stem():
    g = net("conv1 112×112: 7×7, 64, stride 2\nconv2_x 56×56: 3×3 max pool, stride 2")
    c = g.node("conv1.conv")
    assert a(c)["kernel"] == (7, 7) and a(c)["stride"] == (2, 2) and a(c)["padding"] == (3, 3)
    p = g.node("conv2_x.pool")
    assert a(p)["kernel"] == (3, 3) and a(p)["stride"] == (2, 2) and a(p)["padding"] == (1, 1)
    assert p.shape == (64, 56, 56)
    assert [s.name for s in g.stages] == ["conv1", "conv2_x"]
    assert [s.declared for s in g.stages] == [(112, 112), (56, 56)]


def test_basic_block_bracket():
    g = net("conv2_x 56×56: [3×3, 64; 3×3, 64] ×2", input="64×56×56", extra="with batchnorm\n")
    names = [n.name for n in g.nodes]
    assert names[:8] == ["conv2_x.0.conv1", "conv2_x.0.bn1", "conv2_x.0.relu1", "conv2_x.0.conv2",
                         "conv2_x.0.bn2", "conv2_x.0.add", "conv2_x.0.relu", "conv2_x.1.conv1"]
    add = g.node("conv2_x.0.add")
    assert add.inputs == ("conv2_x.0.bn2", "input")   # identity shortcut
    assert g.depth == 4


def test_bottleneck_bracket_no_spaces():
    g = net("conv2_x 56×56: [1×1,64;3×3,64;1×1,256]×3", input="64×56×56")
    assert g.depth == 9
    assert g.output_shape == (256, 56, 56)
    # the first block projects 64 → 256 (option B), the others are identities
    assert g.node("conv2_x.0.shortcut.conv").shape == (256, 56, 56)
    assert [n.name for n in g.nodes if "shortcut" in n.name and n.op == "conv"] == [
        "conv2_x.0.shortcut.conv"]


def test_stride_inferred_from_declared_size():
    g = net("a 56×56: [3×3, 64; 3×3, 64]\nb 28×28: [3×3, 128; 3×3, 128] ×2", input="64×56×56")
    assert a(g.node("b.0.conv1"))["stride"] == (2, 2)
    assert a(g.node("b.1.conv1"))["stride"] == (1, 1)
    assert a(g.node("b.0.shortcut.conv"))["stride"] == (2, 2)
    assert g.node("b.1.add").shape == (128, 28, 28)


def test_stride_on_setting():
    block = "a 56×56: [1×1, 64; 3×3, 64; 1×1, 256]\nb 28×28: [1×1, 128; 3×3, 128; 1×1, 512]"
    g1 = net(block, input="64×56×56", extra="with stride on 1×1\n")
    g3 = net(block, input="64×56×56", extra="with stride on 3×3\n")
    assert a(g1.node("b.0.conv1"))["stride"] == (2, 2) and a(g1.node("b.0.conv2"))["stride"] == (1, 1)
    assert a(g3.node("b.0.conv1"))["stride"] == (1, 1) and a(g3.node("b.0.conv2"))["stride"] == (2, 2)


@pytest.mark.parametrize("opt,proj,pad", [("A", 0, 1), ("B", 1, 0), ("C", 3, 0), ("plain", 0, 0)])
def test_shortcut_options(opt, proj, pad):
    g = net("a 32×32: [3×3, 16; 3×3, 16]\nb 16×16: [3×3, 32; 3×3, 32] ×2", input="16×32×32",
            extra=f"with shortcut {opt}\n")
    assert sum(1 for n in g.nodes if n.op == "conv" and n.role != "main") == proj
    assert sum(1 for n in g.nodes if n.op == "pad_shortcut") == pad
    assert sum(1 for n in g.nodes if n.op == "add") == (0 if opt == "plain" else 3)


def test_relu_before_and_after_add():
    after = net("a 8×8: [3×3, 4; 3×3, 4]", input="4×8×8", extra="with relu after add\n")
    before = net("a 8×8: [3×3, 4; 3×3, 4]", input="4×8×8", extra="with relu before add\n")
    assert [n.op for n in after.nodes][-2:] == ["add", "relu"]
    assert [n.op for n in before.nodes][-1] == "add"


def test_resnet_head():
    g = net("c 7×7: 3×3, 512\n1×1: average pool, 1000-d fc, softmax", input="512×7×7",
            classes=1000)
    ops = [n.op for n in g.nodes]
    assert ops == ["conv", "relu", "gap", "flatten", "fc", "softmax"]
    assert g.output_shape == (1000,)
    assert g.stages[-1].declared == (1, 1)


def test_named_block_with_product():
    g = net("block bottleneck(c) = [1×1, c; 3×3, c; 1×1, 4*c]\ns 8×8: bottleneck(16) ×2",
            input="64×8×8")
    assert g.node("s.0.conv3").shape == (64, 8, 8)
    assert g.depth == 6


def test_params_index_repeat():
    g = net("param d = [1, 2]\na 8×8: [3×3, 4; 3×3, 4] ×d[0]\nb 4×4: [3×3, 8; 3×3, 8] ×d[1]",
            input="4×8×8")
    assert g.depth == 6


# ---- AlexNet ----------------------------------------------------------------------------
def test_alexnet_conv1():
    g = net("conv1 55×55: 11×11, 96, stride 4, padding 0", input="3×227×227")
    c = g.node("conv1.conv")
    assert a(c)["kernel"] == (11, 11) and a(c)["stride"] == (4, 4) and a(c)["padding"] == (0, 0)
    assert c.shape == (96, 55, 55)


@pytest.mark.parametrize("row", ["5×5×48, 256", "5×5, 256, groups 2"])
def test_grouped_conv(row):
    g = net(f"s: {row}", input="96×27×27")
    (c,) = convs(g)
    assert a(c)["groups"] == 2 and a(c)["kernel"] == (5, 5) and a(c)["padding"] == (2, 2)
    assert a(c)["out_channels"] == 256


def test_lrn_parameters_and_dropout():
    g = net("s: 3×3, 8, LRN(k=2, n=5, alpha=1e-4, beta=0.75)\nh: flatten, dropout 0.5, FC-10",
            input="3×8×8", classes=10)
    lrn = [n for n in g.nodes if n.op == "lrn"][0]
    assert a(lrn)["k"] == 2 and a(lrn)["size"] == 5
    assert a(lrn)["alpha"] == pytest.approx(1e-4) and a(lrn)["beta"] == pytest.approx(0.75)
    d = [n for n in g.nodes if n.op == "dropout"][0]
    assert a(d)["p"] == 0.5


def test_bias_modifiers():
    g = net("s: 3×3, 8, bias 1, 3×3, 8, no bias", input="3×8×8")
    c1, c2 = convs(g)
    assert a(c1)["bias"] is True and a(c1)["bias_init"] == 1.0
    assert a(c2)["bias"] is False


# ---- padding defaults, classifier rule, overrides ---------------------------------------------
def test_pool_padding_rule():
    # 3×3/2 on 112 does not tile: padded (k-1)//2 = 1 → 56; on 13 (AlexNet) it tiles: unpadded → 6
    g = net("s: 3×3 max pool, stride 2", input="64×112×112")
    assert a(g.nodes[0])["padding"] == (1, 1) and g.nodes[0].shape == (64, 56, 56)
    g = net("s: 3×3 max pool, stride 2", input="64×13×13")
    assert a(g.nodes[0])["padding"] == (0, 0) and g.nodes[0].shape == (64, 6, 6)


def test_classifier_rule_and_classes_override():
    text = "network t\ninput 3×8×8\nclasses 10\ns: 3×3, 4\nh: average pool, 10-d fc\n"
    assert load(text).output_shape == (10,)
    assert load(text, classes=7).output_shape == (7,)
    with pytest.raises(ArchError, match="classes"):
        load(text.replace("10-d", "11-d"))


def test_family_override_and_alias():
    text = ("network fam\ninput 3×8×8\nparam n = 1\nalias big: n = 3\n"
            "s 8×8: [3×3, 4; 3×3, 4] ×n\n")
    assert load(text).depth == 2
    assert load(text, n=2).depth == 4
    assert load(text, alias="big").depth == 6
    with pytest.raises(ArchError, match="unknown parameter 'm'"):
        load(text, m=2)


def test_several_errors_in_one_run():
    with pytest.raises(ArchErrors) as info:
        net("a: cnov3-64\nb: conv3-64, frob\nc: 3×3, 8, groups 3", input="3×8×8")
    errs = info.value.errors
    assert len(errs) >= 2
    assert [(e.span.line, e.span.col) for e in errs][:2] == [(3, 4), (4, 14)]
    assert "2 errors" in info.value.render() or f"{len(errs)} errors" in info.value.render()


def test_node_spans_point_at_their_source():
    g = net("conv1  56×56: 7×7, 64, stride 2\n               3×3 max pool, stride 2")
    c = g.node("conv1.conv")
    assert (c.span.line, c.span.col) == (3, 15)
    p = [n for n in g.nodes if n.op == "maxpool"][0]
    assert (p.span.line, p.span.col) == (4, 16)
    assert (p.span.end_line, p.span.end_col) == (4, 28)


# ---- regressions for front-end fixes --------------------------------------------------------
def test_repeat_after_channel_count():
    g = net("s: 3×3, 64 ×2, 3×3, 32, stride 2 ×2", input="3×16×16")
    assert [n.shape for n in convs(g)] == [(64, 16, 16), (64, 16, 16), (32, 8, 8), (32, 8, 8)]
    assert [a(n)["stride"] for n in convs(g)][2:] == [(2, 2), (1, 1)]


def test_stage_level_with_applies_to_its_stage_only():
    g = net("s1 8×8: [3×3, 4; 3×3, 4]\ns2 4×4:\n  with shortcut A\n  [3×3, 8; 3×3, 8]\n"
            "s3 2×2: [3×3, 16; 3×3, 16]", input="4×8×8")
    assert [n.stage for n in g.nodes if n.op == "pad_shortcut"] == ["s2"]
    assert [n.stage for n in g.nodes if n.op == "conv" and n.role != "main"] == ["s3"]


def test_header_errors_are_arch_errors():
    with pytest.raises(ArchError, match="stage header"):
        net("c 3×3×3: 3×3, 4", input="3×8×8")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "x", None])
def test_bad_override_values(value):
    with pytest.raises(ArchError, match="must be a number"):
        load("network t\ninput 3×8×8\nparam n = 1\ns: 3×3, 4 ×n\n", n=value)


def test_zero_stage_size():
    with pytest.raises(ArchError, match="height×width"):
        net("c 0×8: 3×3, 4", input="3×8×8")
