"""The small custom layers the op table lowers to (everything else is a stock ``nn`` layer)."""
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
