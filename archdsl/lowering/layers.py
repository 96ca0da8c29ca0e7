"""The small custom layers the op table lowers to (everything else is a stock ``nn`` layer).

Parameter-free arithmetic is a module too, so that every IR node is a module at its name
(hooks, fvcore's per-module figures and the count report see every node)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Add(nn.Module):
    """The residual addition ``main + shortcut``; in place into ``main`` when the producer of
    ``main`` does not need its output for backward (as torchvision's ``out += identity``)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, main: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        return main.add_(shortcut) if self.inplace else main + shortcut

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class PadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride``, zero-pad channels (parameter-free)."""

    def __init__(self, stride: int, pad_before: int, pad_after: int):
        super().__init__()
        self.stride, self.pad_before, self.pad_after = stride, pad_before, pad_after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad_before={self.pad_before}, pad_after={self.pad_after}"


class Concat(nn.Module):
    """Channel concatenation of parallel branches (``torch.cat`` on dim 1), any number of inputs."""

    def forward(self, *branches: torch.Tensor) -> torch.Tensor:
        return torch.cat(branches, 1)


class Mul(nn.Module):
    """A gate: ``x * gate``, the gate (C×1×1, e.g. squeeze-excitation) broadcast over H×W."""

    def forward(self, x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return x * gate
