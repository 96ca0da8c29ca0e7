"""Every spec: analytic counts == torch's numel and fvcore's FlopCountAnalysis, per module.

fvcore runs on real 1×C×H×W CPU tensors at each spec's own input size (it traces with
torch.jit.trace and cannot use meta tensors); the slow ones are VGG and ResNet-152 at 224.
"""
from __future__ import annotations

import pytest
import torch

from archdsl import api
from archdsl.analysis.count import count
from archdsl.lowering.verify import fvcore_flops, verify
from conftest import SMALL_INPUTS, SMALL_MEMBERS, SPEC_NAMES as SPECS
from conftest import torchvision_models as _torchvision_models


@pytest.mark.parametrize("name", SPECS)
def test_spec_counts_match_torch_and_fvcore(name):
    torch.manual_seed(0)
    graph = api.load(name, **SMALL_MEMBERS.get(name, {}))
    # FlopCounterMode re-runs the forward: only on the cheap nets
    result = verify(graph, input=SMALL_INPUTS.get(name),
                    flop_counter=count(graph, convention="paper").total.cost < 2e9)
    assert result.ok, result.render()


TORCHVISION = {  # our spec -> torchvision constructor (module, function)
    "resnet18": ("resnet", "resnet18"), "resnet34": ("resnet", "resnet34"),
    "resnet50-v1.5": ("resnet", "resnet50"), "resnet101-v1.5": ("resnet", "resnet101"),
    "resnet152-v1.5": ("resnet", "resnet152"), "vgg-a": ("vgg", "vgg11"),
    "vgg-b": ("vgg", "vgg13"), "vgg-d": ("vgg", "vgg16"), "vgg-e": ("vgg", "vgg19"),
    "vgg16-bn": ("vgg", "vgg16_bn"), "alexnet-torchvision": ("alexnet", "alexnet"),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_params_equal_torchvision_models(name):
    if name not in SPECS:
        pytest.skip(f"no spec {name}")
    module, fn = TORCHVISION[name]
    model = getattr(_torchvision_models()[module], fn)()
    assert count(api.load(name)).total.params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["resnet50-v1.5", "alexnet-torchvision"])
def test_fvcore_on_torchvision_itself(name):
    """The fvcore convention equals fvcore run on torchvision's own module, not only ours."""
    if name not in SPECS:
        pytest.skip(f"no spec {name}")
    module, fn = TORCHVISION[name]
    model = getattr(_torchvision_models()[module], fn)()
    graph = api.load(name)
    total, _ = fvcore_flops(model, torch.randn(1, *graph.input_shape))
    assert count(graph).total.cost == total


@pytest.mark.parametrize("name, shape, batch", [
    ("resnet18", (3, 160, 160), 2), ("alexnet-torchvision", (3, 256, 256), 1),
    ("resnet-cifar", (3, 40, 40), 3), ("vgg16", (3, 96, 96), 1)])
def test_other_input_sizes_and_batches(name, shape, batch):
    result = verify(api.load(name), input=shape, batch=batch, flop_counter=False)
    assert result.ok, result.render()
