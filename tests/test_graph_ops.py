"""End to end on a hand-built DAG with every op the follow-up papers need.

One graph holds parallel branches merged by ``concat``, a squeeze-excitation gate
(``gap → conv → relu → conv → sigmoid → mul``), a tensor read by three consumers, a
residual ``add``, a dilated conv, ceil-mode pooling, ``relu6``, ``leaky_relu`` and
``identity``. It must lint, count (params = ``numel``; the fvcore convention = fvcore's
``FlopCountAnalysis``, in total and per module), lower, and generate a ``model.py`` whose
outputs equal ``create_model``'s.
"""
from __future__ import annotations

import torch

from archdsl.analysis.count import count
from archdsl.ir.graph import attrs
from archdsl.lowering.codegen import generate_source
from archdsl.lowering.lower import lower
from archdsl.lowering.verify import fvcore_flops, verify
from test_codegen import isolated_outputs
from test_count_nets import L, bn, conv, fc, graph

B = "mix.0"


def branchy():
    """stem (dilated conv) → an inception-like block with an SE gate and a residual add → head."""
    dil = ("conv", attrs(**dict(conv(3, 8, 3, p=2)[1]), dilation=(2, 2)))
    ceil_pool = ("maxpool", attrs(kernel=(3, 3), stride=(2, 2), padding=(0, 0), ceil_mode=True))
    return graph("branchy", (3, 16, 16), [
        L("stem.conv", dil, "stem"), L("stem.bn", bn(8), "stem"),
        L("stem.relu", ("relu", ()), "stem"),
        # three parallel branches from stem.relu
        L(f"{B}.b1.conv", conv(8, 4, 1), "mix", B, ("stem.relu",)),
        L(f"{B}.b1.relu", ("relu", ()), "mix", B),
        L(f"{B}.b2.conv1", conv(8, 4, 1), "mix", B, ("stem.relu",)),
        L(f"{B}.b2.relu6", ("relu6", ()), "mix", B),
        L(f"{B}.b2.conv2", conv(4, 6, 3), "mix", B),
        L(f"{B}.b3.pool", ("maxpool", attrs(kernel=(3, 3), stride=(1, 1), padding=(1, 1))),
          "mix", B, ("stem.relu",)),
        L(f"{B}.b3.conv", conv(8, 2, 1), "mix", B),
        L(f"{B}.b3.act", ("leaky_relu", attrs(negative_slope=0.1)), "mix", B),
        L(f"{B}.concat", ("concat", ()), "mix", B,
          (f"{B}.b1.relu", f"{B}.b2.conv2", f"{B}.b3.act")),
        # squeeze-excitation on the concatenation, which three nodes read
        L(f"{B}.se.pool", ("gap", ()), "mix", B, (f"{B}.concat",)),
        L(f"{B}.se.fc1", conv(12, 3, 1, bias=True), "mix", B),
        L(f"{B}.se.relu", ("relu", ()), "mix", B),
        L(f"{B}.se.fc2", conv(3, 12, 1, bias=True), "mix", B),
        L(f"{B}.se.gate", ("sigmoid", ()), "mix", B),
        L(f"{B}.scale", ("mul", ()), "mix", B, (f"{B}.concat", f"{B}.se.gate")),
        L(f"{B}.skip", ("identity", ()), "mix", B, (f"{B}.concat",)),
        L(f"{B}.add", ("add", ()), "mix", B, (f"{B}.scale", f"{B}.skip")),
        L(f"{B}.relu", ("relu", ()), "mix", B),
        L("head.pool1", ceil_pool, "head"),
        L("head.pool2", ("gap", ()), "head"), L("head.flatten", ("flatten", ()), "head"),
        L("head.fc", fc(12, 5), "head"),
    ])


def test_branchy_graph_lints_and_has_the_expected_shapes():
    g = branchy()
    g.lint()
    shapes = g.shapes
    assert shapes["stem.conv"] == (8, 16, 16)          # dilation 2, padding 2 keeps the size
    assert shapes[f"{B}.concat"] == (12, 16, 16)       # 4 + 6 + 2 channels
    assert shapes[f"{B}.se.gate"] == (12, 1, 1)
    assert shapes[f"{B}.scale"] == (12, 16, 16)
    assert shapes["head.pool1"] == (12, 8, 8)          # ceil((16 − 3) / 2) + 1; floor gives 7


def test_branchy_params_equal_numel_and_fvcore_agrees():
    g = branchy()
    torch.manual_seed(0)
    model = lower(g).eval()
    c = count(g, convention="fvcore")
    assert c.total.params == sum(p.numel() for p in model.parameters())
    total, _ = fvcore_flops(model, torch.randn(1, *g.input_shape))
    assert c.total.cost == total
    v = verify(g, model=model)
    assert v.ok, v.render()


def test_branchy_lowered_matches_a_hand_written_forward():
    g = branchy()
    torch.manual_seed(0)
    model = lower(g).eval()
    m = dict(model.named_modules())
    x = torch.randn(2, *g.input_shape)
    F = torch.nn.functional
    with torch.no_grad():
        s = F.relu(m["stem.bn"](m["stem.conv"](x)))
        b1 = F.relu(m[f"{B}.b1.conv"](s))
        b2 = m[f"{B}.b2.conv2"](F.relu6(m[f"{B}.b2.conv1"](s)))
        b3 = F.leaky_relu(m[f"{B}.b3.conv"](F.max_pool2d(s, 3, 1, 1)), 0.1)
        cat = torch.cat([b1, b2, b3], 1)
        gate = torch.sigmoid(m[f"{B}.se.fc2"](F.relu(m[f"{B}.se.fc1"](cat.mean((2, 3), keepdim=True)))))
        y = F.relu(cat * gate + cat)
        y = F.max_pool2d(y, 3, 2, ceil_mode=True).mean((2, 3))
        want = m["head.fc"](y)
        assert torch.allclose(model(x), want, atol=1e-5)


def test_branchy_model_py_equals_create_model(tmp_path):
    g = branchy()
    torch.manual_seed(0)
    model = lower(g).eval()
    x = torch.randn(2, *g.input_shape)
    got = isolated_outputs(g, model, x, tmp_path)
    with torch.no_grad():
        want = model(x)
    assert got["keys"] == list(model.state_dict())
    assert torch.allclose(got["out"], want, atol=1e-6)
    compile(generate_source(g), "model.py", "exec")
