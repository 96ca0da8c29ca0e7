"""Hand-written CIFAR-style ResNets and plain nets (He et al. §4.2) for tests and examples.

They stand in for ``archdsl.lowering.create_model`` until the lowering exists, and remain
a spec-independent reference afterwards. 3×3 convs, BN, option-A (parameter-free,
zero-padded) shortcuts; 6n+2 layers; n=3 is ResNet-20 (269,722 parameters).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archdsl.train.errors import TrainError


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, residual: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.residual, self.stride, self.pad = residual, stride, cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.residual:
            # Option A: subsample by striding, zero-pad the new channels (no parameters).
            sc = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
            if self.pad:
                sc = F.pad(sc, (0, 0, 0, 0, 0, self.pad))
            out = out + sc
        return F.relu(out)


class CifarNet(nn.Module):
    """ResNet (``residual=True``) or plain net with 6n+2 weighted layers for CIFAR-sized input."""

    def __init__(self, n: int = 3, num_classes: int = 10, residual: bool = True,
                 in_channels: int = 3, input_size: int = 32, width: int = 16):
        super().__init__()
        # Read by the training harness to adapt data (e.g. digits 1×8×8) to the model's input.
        self.input_shape = (in_channels, input_size, input_size)
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        blocks, cin = [], width
        for stage, cout in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                blocks.append(_Block(cin, cout, 2 if (stage > 0 and i == 0) else 1, residual))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def make_testnet(name: str, num_classes: int = 10, input_size: int | None = None,
                 n: int = 3, **_: object) -> nn.Module:
    """Build ``resnet`` or ``plain`` (the part after ``testnet:``) with depth parameter n."""
    if name not in ("resnet", "plain"):
        raise TrainError(f"unknown test net {name!r}", hint="use testnet:resnet or testnet:plain")
    return CifarNet(n=int(n), num_classes=num_classes, residual=name == "resnet",
                    input_size=int(input_size or 32))
