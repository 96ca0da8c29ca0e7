"""The residual family of issue 13a against its references: torchvision's ResNeXt and wide
ResNets (params, weights, outputs), hand-written PyTorch SE-ResNet(-Xt) and pre-activation
ResNets / WRNs written from the papers and the authors' code (params and outputs exactly),
the papers' params figures, and model.py for the new block kinds.

Outputs are compared at small inputs (64×64 for the ImageNet nets: every layer is
size-independent up to the global pool) and on the smallest family members, to keep the
CPU time small; the paper figures are params, which need no forward."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import archdsl
from archdsl.analysis.count import count
from archdsl.lowering import create_model
from conftest import torchvision_models
from test_codegen import isolated_outputs
from test_weights import _randomise_bn, assert_imports_torchvision

TORCHVISION = [("resnext50-32x4d", "resnext50_32x4d"), ("resnext101-32x8d", "resnext101_32x8d"),
               ("resnext101-64x4d", "resnext101_64x4d"), ("wide-resnet50-2", "wide_resnet50_2"),
               ("wide-resnet101-2", "wide_resnet101_2")]
TORCHVISION_PARAMS = {"resnext50-32x4d": 25_028_904, "resnext101-32x8d": 88_791_336,
                      "resnext101-64x4d": 83_455_272, "wide-resnet50-2": 68_883_240,
                      "wide-resnet101-2": 126_886_696}   # REFERENCE.md


@pytest.mark.parametrize("name, ctor", TORCHVISION, ids=[n for n, _ in TORCHVISION])
def test_torchvision_weights_give_torchvision_outputs(name, ctor):
    torch.manual_seed(0)
    tv = getattr(torchvision_models(("resnet",))["resnet"], ctor)().eval()
    assert sum(p.numel() for p in tv.parameters()) == TORCHVISION_PARAMS[name]
    graph = archdsl.load(name)
    assert count(graph).total.params == TORCHVISION_PARAMS[name]
    ours = create_model(name).eval()
    assert_imports_torchvision(ours, tv, torch.randn(1, 3, 64, 64))


# ---- hand-written references ---------------------------------------------------------------
def _bn_relu(c):
    return [nn.BatchNorm2d(c), nn.ReLU()]


class SEBottleneck(nn.Module):
    """Hu et al. 2018, Table 1 / Fig. 3: a ResNet(-Xt) bottleneck whose branch ends in the SE
    gate (global pool, fc C/r, ReLU, fc C, sigmoid: fcs as 1×1 convs with bias), scaling the
    branch before the addition; projection shortcut where the shape changes."""

    def __init__(self, cin, width, cout, stride, groups, stride_on_1x1, r=16):
        super().__init__()
        s1, s3 = (stride, 1) if stride_on_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(cin, width, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, s3, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.fc1 = nn.Conv2d(cout, cout // r, 1)
        self.fc2 = nn.Conv2d(cout // r, cout, 1)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        g = torch.sigmoid(self.fc2(torch.relu(self.fc1(y.mean((2, 3), keepdim=True)))))
        return torch.relu(y * g + (x if self.down is None else self.down(x)))


def se_net(groups: int, width_mult: int, stride_on_1x1: bool) -> nn.Module:
    """SE-ResNet-50 (groups 1, widths 64…) or SE-ResNeXt-50 32×4d (groups 32, widths 128…)."""
    layers, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), *_bn_relu(64), nn.MaxPool2d(3, 2, 1)], 64
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for j in range(n):
            layers.append(SEBottleneck(cin, planes * width_mult, planes * 4,
                                       2 if j == 0 and i > 0 else 1, groups, stride_on_1x1))
            cin = planes * 4
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000))


class PreActUnit(nn.Module):
    """He et al. 2016b full pre-activation unit as in the authors' code: BN-ReLU-conv per conv
    (dropout before the second conv of a WRN block), the stride on conv ``stride_at`` (the
    first 1×1 in the CIFAR code, the 3×3 in fb.resnet.torch); where the shape changes the first
    BN-ReLU is shared with the 1×1 projection (no BN); ``preact=False``: the input is already
    activated (after the stem) and the first BN-ReLU is left out."""

    def __init__(self, cin, convs, stride, dropout=0.0, preact=True, stride_at=0):
        super().__init__()
        self.project = stride != 1 or cin != convs[-1][1]
        mods, c = [], cin
        for i, (k, out) in enumerate(convs):
            if i > 0 or preact:
                mods += _bn_relu(c)
            if i > 0 and dropout:
                mods.append(nn.Dropout(dropout))
            mods.append(nn.Conv2d(c, out, k, stride if i == stride_at else 1, k // 2, bias=False))
            c = out
        self.lead = nn.Sequential(*mods[:2]) if preact else nn.Identity()
        self.rest = nn.Sequential(*mods[2:] if preact else mods)
        self.short = nn.Conv2d(cin, c, 1, stride, bias=False) if self.project else None

    def forward(self, x):
        a = self.lead(x)
        y = self.rest(a)
        return y + (self.short(a if self.project else x) if self.project else x)


def preact_cifar(n: int, basic: bool = False) -> nn.Module:
    layers, cin = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)], 16
    for i, w in enumerate((16, 32, 64)):
        for j in range(n):
            convs = [(3, w), (3, w)] if basic else [(1, w), (3, w), (1, 4 * w)]
            layers.append(PreActUnit(cin, convs, 2 if j == 0 and i else 1))
            cin = convs[-1][1]
    return nn.Sequential(*layers, *_bn_relu(cin), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(cin, 10))


def wrn(N: int, k: int) -> nn.Module:
    layers, cin = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)], 16
    for i, w in enumerate((16 * k, 32 * k, 64 * k)):
        for j in range(N):
            layers.append(PreActUnit(cin, [(3, w), (3, w)], 2 if j == 0 and i else 1, 0.3))
            cin = w
    return nn.Sequential(*layers, *_bn_relu(cin), nn.AvgPool2d(8), nn.Flatten(),
                         nn.Linear(cin, 10))


def preact_imagenet(depths) -> nn.Module:
    layers, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), *_bn_relu(64),
                   nn.MaxPool2d(3, 2, 1)], 64
    for i, (w, n) in enumerate(zip((64, 128, 256, 512), depths)):
        for j in range(n):
            layers.append(PreActUnit(cin, [(1, w), (3, w), (1, 4 * w)], 2 if j == 0 and i else 1,
                                     preact=(i, j) != (0, 0), stride_at=1))
            cin = 4 * w
    return nn.Sequential(*layers, *_bn_relu(2048), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(2048, 1000))


def _copy_in_order(ours: nn.Module, ref: nn.Module) -> None:
    """Load ``ref``'s tensors into ``ours``, paired in registration order (same shapes)."""
    a, b = ours.state_dict(), ref.state_dict()
    assert len(a) == len(b)
    assert [t.shape for t in a.values()] == [t.shape for t in b.values()]
    ours.load_state_dict(dict(zip(a, b.values())))


def _same_outputs(name: str, ref: nn.Module, size: int, **params) -> None:
    torch.manual_seed(0)
    ours = create_model(name, **params).eval()
    _randomise_bn(ref)
    ref.eval()
    _copy_in_order(ours, ref)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, groups, mult, on_1x1", [
    ("se-resnet50", 1, 1, True), ("se-resnext50-32x4d", 32, 2, False)])
def test_se_nets_equal_the_hand_written_reference(name, groups, mult, on_1x1):
    ref = se_net(groups, mult, on_1x1)
    graph = archdsl.load(name)
    assert count(graph).total.params == sum(p.numel() for p in ref.parameters())
    assert graph.depth == 50   # the gate's two fcs are not layers of the depth
    _same_outputs(name, ref, 64)


def test_se_resnet50_params_and_macs_are_the_papers():
    t = count(archdsl.load("se-resnet50"), convention="paper").total
    assert round(t.params / 1e6, 1) == 28.1   # Hu et al. Table 2: 28.1 M
    assert round(t.macs / 1e9, 2) == 3.86     # 3.87 GFLOPs in Table 2: SE-ResNet-50 at 3.86 +


@pytest.mark.parametrize("spec, n", [("preact-resnet-cifar", 1), ("preact-resnet-cifar", 2),
                                     ("preact-resnet-cifar-basic", 2)])
def test_preact_cifar_equals_the_hand_written_reference(spec, n):
    ref = preact_cifar(n, basic=spec.endswith("basic"))
    assert count(archdsl.load(spec, n=n)).total.params == sum(p.numel() for p in ref.parameters())
    _same_outputs(spec, ref, 32, n=n)


def test_wrn_equals_the_hand_written_reference():
    ref = wrn(1, 2)
    assert count(archdsl.load("wrn", N=1, k=2)).total.params == \
        sum(p.numel() for p in ref.parameters())
    _same_outputs("wrn", ref, 32, N=1, k=2)


def test_preact_imagenet_equals_the_hand_written_reference():
    """The ResNet-200 spec's structure at depths [1, 2, 1, 1] (outputs) and at its own
    depths (params, on the meta device)."""
    _same_outputs("preact-resnet200", preact_imagenet([1, 2, 1, 1]), 64, depths=[1, 2, 1, 1])
    with torch.device("meta"):
        ref = preact_imagenet([3, 24, 36, 3])
    assert count(archdsl.load("preact-resnet200")).total.params == \
        sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("name, millions, depth", [
    ("preact-resnet164", 1.7, 164), ("preact-resnet110", 1.7, 110), ("wrn-28-10", 36.5, 26), ("wrn-40-4", 8.9, 38),
    ("wrn-16-8", 11.0, 14)])
def test_params_are_the_papers(name, millions, depth):
    g = archdsl.load(name)
    assert round(count(g).total.params / 1e6, 1) == millions
    assert g.depth == depth   # WRN's n also counts the projection shortcuts


def test_resnet1001_params_near_the_papers():
    """The paper prints 10.2 M for ResNet-1001; its own unit widths (16/32/64 ×4, n = 111)
    give 10,327,706 (110 identity units per stage alone make 10,200,960): within 1.3 %."""
    g = archdsl.load("preact-resnet1001")
    assert g.depth == 1001
    assert count(g).total.params == 10_327_706
    assert abs(count(g).total.params / 10.2e6 - 1) < 0.013


@pytest.mark.parametrize("name, params", [("se-resnext50-32x4d", {}),
                                          ("wrn", {"N": 1, "k": 1})])
def test_model_py_runs_standalone_and_equals_create_model(name, params, tmp_path):
    graph = archdsl.load(name, **params)
    model = create_model(name, **params).eval()
    x = torch.randn(1, 3, 64, 64) if graph.input_shape[1] > 64 else torch.randn(2, 3, 32, 32)
    got = isolated_outputs(graph, model, x, tmp_path)
    assert got["keys"] == list(model.state_dict())
    with torch.no_grad():
        assert torch.equal(got["out"], model(x))


@pytest.mark.parametrize("name, params", [("preact-resnet-cifar", {"n": 2}),
                                          ("preact-resnet200", {"depths": [1, 2, 1, 1]})])
def test_torch_export_small_members(name, params):
    """The deep pre-activation specs' blocks trace with torch.export (shared pre-activation,
    projection without BN), on small members of their families."""
    graph = archdsl.load(name, **params)
    model = create_model(name, **params).eval()
    x = torch.randn(1, 3, 32, 32) if graph.input_shape[1] <= 64 else torch.randn(1, 3, 64, 64)
    ep = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(ep.module()(x), model(x), rtol=1e-5, atol=1e-5)


# ---- the notation, on small specs ----------------------------------------------------------
def _spec(body: str, head: str = "with batchnorm") -> str:
    return f"network t\ninput 3×16×16\nclasses 10\n{head}\n{body}\nhead: average pool, fc-10\n"


def _ops(text: str, block: str | None = None) -> list[tuple[str, str]]:
    return [(n.local_name, n.op) for n in archdsl.load(text).nodes
            if block is None or n.block == block]


def test_width_factor_is_a_product_and_a_spaced_times_repeats():
    from archdsl.lang.fmt import format_spec
    text = _spec("param k = 3\ns1 16×16: [3×3, 16×k; 3×3, 16×k] ×2")
    g = archdsl.load(text)
    assert [n["out_channels"] for n in g.nodes if n.op == "conv" and n.role == "main"] == [48] * 4
    assert "[3×3, 16×k; 3×3, 16×k] ×2" in format_spec(text)   # fmt keeps the paper's ×
    assert format_spec(format_spec(text)) == format_spec(text)
    row = archdsl.load(_spec("param k = 3\ns1 16×16: 3×3, 16 ×k"))   # a repeat, as before
    assert [n["out_channels"] for n in row.nodes if n.op == "conv"] == [16] * 3


def test_cardinality_is_the_groups():
    a = archdsl.load(_spec("s1 16×16: [1×1, 64; 3×3, 64, C=32; 1×1, 64]"))
    b = archdsl.load(_spec("s1 16×16: [1×1, 64; 3×3, 64, groups 32; 1×1, 64]"))
    assert [n.attrs for n in a.nodes] == [n.attrs for n in b.nodes]
    assert [n["groups"] for n in a.nodes if n.op == "conv"][:3] == [1, 32, 1]


def test_dropout_row_goes_before_the_next_conv():
    post = _ops(_spec("s1 16×16: [3×3, 16; dropout 0.3; 3×3, 16]"), "s1.0")
    assert post[:6] == [("conv1", "conv"), ("bn1", "bn"), ("relu1", "relu"),
                        ("dropout2", "dropout"), ("conv2", "conv"), ("bn2", "bn")]
    pre = _ops(_spec("s1 16×16: [3×3, 16; dropout 0.3; 3×3, 16]",
                     "with preactivation, batchnorm"), "s1.0")
    assert pre[3:7] == [("bn2", "bn"), ("relu2", "relu"), ("dropout2", "dropout"),
                        ("conv2", "conv")]


def test_preact_block_after_an_activated_input_leaves_out_its_first_bn_relu():
    head = "with preactivation, batchnorm"
    bare = _ops(_spec("c 16×16: 3×3, 8\ns1 16×16: [3×3, 16; 3×3, 16]", head), "s1.0")
    assert bare[:3] == [("bn1", "bn"), ("relu1", "relu"), ("conv1", "conv")]
    assert ("shortcut.conv", "conv") in bare and ("shortcut.bn", "bn") not in bare
    done = _ops(_spec("c 16×16: 3×3, 8, bn, relu\ns1 16×16: [3×3, 16; 3×3, 16]", head), "s1.0")
    assert done[0] == ("conv1", "conv")


@pytest.mark.parametrize("row, want", [
    ("3×3, 8, relu6", nn.ReLU6), ("3×3, 8, leaky relu 0.1", nn.LeakyReLU),
    ("3×3, 8, linear", None)])
def test_per_layer_activation_lowers_to_torch(row, want):
    model = create_model(archdsl.load(_spec(f"s1 16×16: {row}")))
    kinds = [type(m) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6, nn.LeakyReLU))]
    assert kinds == ([want] if want else [])
    if want is nn.LeakyReLU:
        assert next(m for m in model.modules() if isinstance(m, nn.LeakyReLU)).negative_slope == 0.1


def test_network_wide_activation_reaches_blocks_but_not_the_se_gate():
    g = archdsl.load(_spec("s1 16×16: [3×3, 16; 3×3, 16; fc, [4, 16]]",
                            "with batchnorm, activation relu6"))
    ops = {n.local_name: n.op for n in g.nodes if n.block == "s1.0"}
    assert ops["relu1"] == ops["relu"] == "relu6" and ops["se.relu"] == "relu"
    assert ops["scale"] == "mul" and g.depth == 3   # two convs and the fc: not the gate's


def test_verify_at_the_specs_own_size():
    """``report --verify`` on SE-ResNeXt-50 at 224×224 (SE gates, grouped convs): the
    analytic counts equal torch's and fvcore's, per module. The every-spec check in
    test_verify_specs runs the ImageNet members of this family at 64×64."""
    from archdsl.lowering.verify import verify
    torch.manual_seed(0)
    result = verify(archdsl.load("se-resnext50-32x4d"), flop_counter=False)
    assert result.ok, result.render()
