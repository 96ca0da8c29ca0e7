"""Every bundled spec lowers: forward gives the IR's output shape, backward works in train
mode, parameters equal the analytic count, and torch.export traces it."""
from __future__ import annotations

import pytest
import torch

from archdsl import api
from archdsl.analysis.count import count
from archdsl.lowering.lower import lower
from conftest import SMALL_INPUTS, SMALL_MEMBERS, SPECS
# torch.export costs ~10 ms per layer on this CPU: the deepest nets are exported in CI only
# through their smaller siblings (same block code); see test_export_deep_family_member.
EXPORT_SKIP = {"resnet101", "resnet152", "resnet101-v1.5", "resnet152-v1.5",
               # #13a: their blocks export through resnext50-32x4d, and through small
               # members in tests/test_resfam.py::test_torch_export_small_members
               "resnext101-32x8d", "preact-resnet200", "preact-resnet-cifar",
               "preact-resnet-cifar-basic", "se-resnext50-32x4d", "wide-resnet50-2"}


def _batch(graph) -> int:
    return 2 if graph.input_shape[1] <= 64 else 1


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_forward_shape_params_backward(path):
    graph = api.load(str(path), **SMALL_MEMBERS.get(path.stem, {}))
    model = lower(graph)
    assert sum(p.numel() for p in model.parameters()) == count(graph).total.params
    x = torch.randn(_batch(graph), *SMALL_INPUTS.get(path.stem, graph.input_shape))
    with torch.no_grad():
        out = model.eval()(x)
    assert tuple(out.shape) == (x.shape[0], *graph.output_shape)
    assert torch.isfinite(out).all()
    model.train()
    model(x).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing[:5]


@pytest.mark.parametrize("path", [p for p in SPECS if p.stem not in EXPORT_SKIP],
                         ids=[p.stem for p in SPECS if p.stem not in EXPORT_SKIP])
def test_torch_export(path):
    graph = api.load(str(path))
    model = lower(graph).eval()
    x = torch.randn(1, *graph.input_shape)
    ep = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(ep.module()(x), model(x), rtol=1e-5, atol=1e-5)


def test_export_deep_family_member():
    """A deep CIFAR ResNet (n=9, 56 layers) exports: depth is no obstacle to tracing."""
    graph = api.load("resnet-cifar", n=9)
    model = lower(graph).eval()
    x = torch.randn(2, *graph.input_shape)
    ep = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(ep.module()(x), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [3, 5])
def test_cifar_family_members(n):
    from archdsl.lowering import create_model

    model = create_model("resnet-cifar", n=n)
    assert sum(p.numel() for p in model.parameters()) == {3: 269_722, 5: 464_154}[n]
    out = model.eval()(torch.randn(2, 3, 32, 32))
    assert tuple(out.shape) == (2, 10)


def test_create_model_by_name_with_classes():
    from archdsl.lowering import create_model

    model = create_model("resnet18", num_classes=10)
    assert [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == [10]
    out = model.eval()(torch.randn(1, 3, 224, 224))
    assert tuple(out.shape) == (1, 10)
    names = dict(model.named_modules())
    assert "conv2_x.0.conv1" in names and "conv2_x.0.bn1" in names
    assert model.conv2_x[0].conv1 is names["conv2_x.0.conv1"]
    stages = model.forward_stages(torch.randn(1, 3, 224, 224))
    assert tuple(stages["conv5_x"].shape) == (1, 512, 7, 7)
    assert tuple(model.forward_features(torch.randn(1, 3, 224, 224)).shape) == (1, 512, 7, 7)


def test_torch_compile_create_model():
    """torch.compile traces create_model's forward in one graph, forward and backward
    (aot_eager: dynamo and AOTAutograd without a C++ toolchain's compile time)."""
    from archdsl.lowering import create_model

    torch.manual_seed(0)
    model = create_model("resnet-cifar", n=3)
    x = torch.randn(4, 3, 32, 32)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))
    model.train()
    compiled(x).square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
