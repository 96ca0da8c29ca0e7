"""Generated source for the bundled specs: same state_dict as create_model for every spec
(built on the meta device: shapes and keys, no compute), and the same outputs in a process
where archdsl cannot be imported for ResNet-50, VGG-16 and ResNet-20 (resnet-cifar n=3)."""
from __future__ import annotations

import pytest
import torch

from archdsl import api
from archdsl.lowering.codegen import generate_source
from archdsl.lowering.lower import lower
from conftest import SPECS
from test_codegen import import_source, isolated_outputs


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_same_state_dict_layout(path, tmp_path):
    graph = api.load(str(path))
    source = generate_source(graph)
    with torch.device("meta"):  # no memory, no init cost: only names and shapes matter here
        ours = lower(graph)
        gen = import_source(source, tmp_path / "gen.py").build()
    a, b = ours.state_dict(), gen.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)


@pytest.mark.parametrize("spec, params", [("resnet50", {}), ("vgg16", {}), ("resnet-cifar", {"n": 3})],
                         ids=["resnet50", "vgg16", "resnet-cifar-n3"])
def test_isolated_outputs_equal(spec, params, tmp_path):
    names = (spec, "vgg-d") if spec == "vgg16" else (spec,)
    for name in names:
        try:
            graph = api.load(name, **params)
            break
        except Exception:  # noqa: BLE001 - the VGG-16 spec may be called vgg-d
            if name == names[-1]:
                raise
    model = lower(graph).eval()
    x = torch.randn(2 if graph.input_shape[1] <= 64 else 1, *graph.input_shape)
    got = isolated_outputs(graph, model, x, tmp_path)
    assert got["keys"] == list(model.state_dict())
    with torch.no_grad():
        assert torch.equal(got["out"], model(x))
