"""The helpers generated model.py files define, as real code: :mod:`.codegen` copies the
source of those a model uses (``inspect.getsource``) to the top of model.py, so they are
written, linted and tested once. They need only torch."""
from __future__ import annotations

from torch import nn


def he(layer, bias=0.0):
    """He et al. init: Kaiming normal (fan_out, ReLU gain); bias constant."""
    nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


def normal(layer, std, bias=0.0):
    """Weights from N(0, std²), bias constant (AlexNet, VGG)."""
    nn.init.normal_(layer.weight, 0.0, std)
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


def constant_bias(layer, bias):
    """torch's default weight init, constant bias."""
    nn.init.constant_(layer.bias, bias)
    return layer


def run(stage, x, start: int, stop: int):
    """Apply only the children start .. stop - 1 of a stage (where the head begins)."""
    for layer in list(stage.children())[start:stop]:
        x = layer(x)
    return x


class Stage(nn.Sequential):
    """A stage of the paper's table: layers given as (name, layer) and blocks, numbered
    "0", "1", ... in order; stage[j] is block j even after a leading pool."""

    def __init__(self, *items):
        super().__init__()
        blocks = 0
        for item in items:
            if isinstance(item, tuple):
                self.add_module(*item)
            else:
                self.add_module(str(blocks), item)
                blocks += 1

    def __getitem__(self, idx):
        if isinstance(idx, int) and str(idx) in self._modules:
            return self._modules[str(idx)]
        return super().__getitem__(idx)
