"""The structured modules a lowered network is made of.

No graph interpretation at run time: a network is a sequence of :class:`Stage` modules, a
stage a ``Sequential`` of layers and :class:`ResidualBlock` modules, a block a fixed main
path, an optional shortcut, an :class:`Add` and what follows it. Every IR node is a module
at its dotted name (``conv2_x.0.conv1``), so ``state_dict`` keys, fvcore's per-module
figures and the count report speak the same language.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from archdsl.lowering.layers import Add, PadShortcut  # noqa: F401  (re-exported)


class Stage(nn.Sequential):
    """A stage of the paper's table: layers (``pool``) and blocks (``0``, ``1``…) in order.

    ``stage[j]`` is block ``j`` (the module named ``"j"``), not the j-th child, so that
    ``model.conv2_x[0]`` is ``conv2_x.0`` even when a pooling layer precedes the blocks.
    """

    def __init__(self, children: "OrderedDict[str, nn.Module]"):
        super().__init__(children)

    def __getitem__(self, idx):  # type: ignore[override]
        if isinstance(idx, int) and str(idx) in self._modules:
            return self._modules[str(idx)]
        return super().__getitem__(idx)

    def run(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Apply children ``start`` .. ``stop - 1`` only (the feature/head split)."""
        for m in list(self._modules.values())[start:stop]:
            x = m(x)
        return x


class ResidualBlock(nn.Module):
    """A block: main path, optional shortcut, addition, post-addition layers.

    Children are registered under their IR local names in IR order (``conv1``, ``bn1``, …,
    ``shortcut``, ``add``, ``relu``). ``forward`` walks fixed name tuples computed once, so a
    call costs what torchvision's hand-written ``Bottleneck.forward`` costs.
    """

    def __init__(self, main: list[tuple[str, nn.Module]], shortcut: nn.Module | None,
                 add: tuple[str, nn.Module] | None, post: list[tuple[str, nn.Module]]):
        super().__init__()
        for name, m in main:
            self.add_module(name, m)
        if shortcut is not None:
            self.add_module("shortcut", shortcut)
        if add is not None:
            self.add_module(add[0], add[1])
        for name, m in post:
            self.add_module(name, m)
        self._main = tuple(n for n, _ in main)
        self._has_shortcut = shortcut is not None
        self._add = add[0] if add is not None else None
        self._post = tuple(n for n, _ in post)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mods = self._modules
        out = x
        for name in self._main:
            out = mods[name](out)
        if self._add is None:
            return out
        short = mods["shortcut"](x) if self._has_shortcut else x
        out = mods[self._add](out, short)
        for name in self._post:
            out = mods[name](out)
        return out


class Network(nn.Module):
    """A lowered spec: one :class:`Stage` child per stage, named as in the spec.

    ``forward`` returns logits (the spec's soft-max is the loss's job). ``forward_features``
    stops where the head begins (global pooling / flatten / fc) and returns the last feature
    map; ``forward_head`` does the rest; ``forward_stages`` returns every stage's output.
    ``graph`` is the IR it was built from; ``input_shape`` = (C, H, W).
    """

    def __init__(self, stages: "OrderedDict[str, Stage]", split: tuple[int, int], graph=None):
        super().__init__()
        for name, st in stages.items():
            self.add_module(name, st)
        self._names = tuple(stages)
        self._split = split
        self.graph = graph
        self.name = graph.name if graph is not None else "network"
        self.input_shape = tuple(graph.input_shape) if graph is not None else None
        self.num_classes = graph.num_classes if graph is not None else None

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The stages in order, as named in the spec."""
        return self._names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self._modules.values():
            x = stage(x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The network up to (not including) the head: the last spatial feature map."""
        si, ii = self._split
        mods = self._modules
        for name in self._names[:si]:
            x = mods[name](x)
        if si < len(self._names) and ii:
            x = mods[self._names[si]].run(x, 0, ii)
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """The head alone, on the output of :meth:`forward_features`."""
        si, ii = self._split
        mods = self._modules
        if si < len(self._names):
            x = mods[self._names[si]].run(x, ii, len(mods[self._names[si]]))
        for name in self._names[si + 1:]:
            x = mods[name](x)
        return x

    def forward_stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every stage's output by stage name, in order (for backbone / feature-pyramid use)."""
        out: dict[str, torch.Tensor] = {}
        for name in self._names:
            x = self._modules[name](x)
            out[name] = x
        return out
