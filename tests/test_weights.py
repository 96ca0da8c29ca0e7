"""torchvision state dicts loaded into lowered specs give torchvision's outputs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archdsl.lowering import create_model, load_torchvision_weights
from archdsl.lowering.lower import lower
from archdsl.lowering.weights import WeightMismatch
from conftest import torchvision_models
from test_count_nets import tiny_resnet, tiny_vgg


def spec_model(*names: str) -> nn.Module:
    """create_model for the first of ``names`` that is a bundled spec."""
    errors = []
    for name in names:
        try:
            return create_model(name)
        except Exception as e:  # noqa: BLE001 - another spelling of the name
            errors.append(f"{name}: {e}")
    raise AssertionError("; ".join(errors))


def _randomise_bn(model: nn.Module) -> None:
    """Non-trivial BN statistics and affine parameters, so that the mapping of each is tested."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.num_batches_tracked.fill_(7)


def assert_imports_torchvision(ours: nn.Module, tv: nn.Module, x: torch.Tensor):
    """``tv``'s weights (its BN statistics randomised first) load into ``ours`` with every
    torchvision layer paired, and the two then give the same outputs on ``x``. Returns the
    import's pairing."""
    _randomise_bn(tv)
    loaded = load_torchvision_weights(ours, tv.state_dict())
    assert len(loaded.pairs) == len({k.rpartition(".")[0] for k in tv.state_dict()})
    with torch.no_grad():
        torch.testing.assert_close(ours(x), tv(x), rtol=1e-5, atol=1e-5)
    return loaded


CASES = [
    (("resnet18",), "resnet", "resnet18"),
    (("resnet50-v1.5",), "resnet", "resnet50"),
    (("resnet152-v1.5",), "resnet", "resnet152"),
    (("vgg-a", "vgg11"), "vgg", "vgg11"),
    (("vgg16-bn", "vgg-d-bn"), "vgg", "vgg16_bn"),
    (("alexnet-torchvision",), "alexnet", "alexnet"),
]


@pytest.mark.parametrize("names, module, ctor", CASES)
def test_outputs_equal_torchvision(names, module, ctor):
    ours = spec_model(*names).eval()
    torch.manual_seed(0)
    tv = getattr(torchvision_models()[module], ctor)().eval()
    loaded = assert_imports_torchvision(ours, tv, torch.randn(1, 3, 224, 224))
    sd = ours.state_dict()
    assert all(torch.equal(sd[f"{a}.{k.rpartition('.')[2]}"], t)
               for a, b in loaded.pairs for k, t in tv.state_dict().items()
               if k.rpartition(".")[0] == b)  # BN running stats and counters included


def test_paper_resnet50_refuses_v15_weights():
    ours = spec_model("resnet50")
    tv = torchvision_models()["resnet"].resnet50()
    with pytest.raises(WeightMismatch, match="v1.5"):
        load_torchvision_weights(ours, tv.state_dict())
    load_torchvision_weights(ours, tv.state_dict(), check_variant=False)  # shapes do fit


def test_wrong_network_is_reported_by_name_and_shape():
    ours = spec_model("resnet34")
    tv = torchvision_models()["resnet"].resnet18()
    with pytest.raises(WeightMismatch) as e:
        load_torchvision_weights(ours, tv.state_dict())
    text = str(e.value)
    assert "has no torchvision counterpart" in text
    assert "conv" in text and "×" in text


def test_mismatches_on_hand_built_graphs():
    ours = lower(tiny_resnet())
    other = lower(tiny_resnet(width=8)).state_dict()
    with pytest.raises(WeightMismatch, match=r"conv1\.conv \(conv: weight 4×3×3×3\)"):
        load_torchvision_weights(ours, other)
    vgg = lower(tiny_vgg())
    with pytest.raises(WeightMismatch, match="does not correspond"):  # conv vs batch norm
        load_torchvision_weights(vgg, ours.state_dict())


def test_non_strict_skips_a_different_classifier_and_says_so():
    ours = lower(tiny_resnet(classes=10))
    donor = lower(tiny_resnet(classes=5)).state_dict()
    loaded = load_torchvision_weights(ours, donor, strict=False)
    assert len(loaded.skipped) == 1 and "head.fc" in loaded.skipped[0]
    assert torch.equal(ours.state_dict()["conv1.conv.weight"], donor["conv1.conv.weight"])
    with pytest.raises(WeightMismatch, match="head.fc"):
        load_torchvision_weights(ours, donor)
