"""Batched augmentation on the training device: whole-batch tensor ops, no per-sample Python.

Random choices come from an explicit ``torch.Generator`` on the data's device so a resumed
run replays exactly the same crops and flips.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from archdsl.train.errors import TrainError


def adapt(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Resize (bilinear) and repeat/average channels so float images match the model's input
    (e.g. digits 1×8×8 → 3×32×32)."""
    c, h, w = shape
    if x.shape[1] != c:
        if x.shape[1] == 1:
            x = x.expand(-1, c, -1, -1)
        elif c == 1:
            x = x.mean(1, keepdim=True)
        else:
            raise TrainError(f"cannot adapt {x.shape[1]}-channel images to a {c}-channel input",
                             hint="use data with 1 or as many channels as the spec's input")
    if x.shape[-2:] != (h, w):
        shrink = h < x.shape[-2] or w < x.shape[-1]
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=shrink)
    return x


def crop_at(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Per-sample crops of size h×w at offsets (top[i], left[i]) by one gather."""
    n = x.shape[0]
    rows = (top.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
    cols = (left.view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    chan = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return x[batch, chan, rows, cols]


def random_crop(x: torch.Tensor, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """A uniformly placed h×w crop from each image."""
    n, dev = x.shape[0], x.device
    top = torch.randint(0, x.shape[-2] - h + 1, (n,), device=dev, generator=gen)
    left = torch.randint(0, x.shape[-1] - w + 1, (n,), device=dev, generator=gen)
    return crop_at(x, top, left, h, w)


def pad_crop(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """He et al.'s CIFAR augmentation: zero-pad by ``pad`` and crop back to the original size."""
    if pad <= 0:
        return x
    h, w = x.shape[-2:]
    return random_crop(F.pad(x, (pad, pad, pad, pad)), h, w, gen)


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image horizontally with probability 1/2."""
    mask = torch.rand(x.shape[0], device=x.device, generator=gen) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)


def scale_jitter_crop(x: torch.Tensor, smin: int, smax: int, crop: int,
                      gen: torch.Generator, scale_gen: torch.Generator) -> torch.Tensor:
    """ImageNet-style: resize so the shorter side is S ~ U[smin, smax] (one S per batch, so the
    resize stays one kernel), then a random crop×crop window per image. S is drawn from the
    CPU generator ``scale_gen``: reading a device random number would sync every step."""
    s = int(torch.randint(smin, smax + 1, (1,), generator=scale_gen)) if smax > smin else smin
    h, w = x.shape[-2:]
    k = s / min(h, w)
    size = (max(crop, round(h * k)), max(crop, round(w * k)))
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=k < 1)
    return random_crop(x, crop, crop, gen)


def center_crop(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The central h×w window (identity when the image already has that size)."""
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top:top + h, left:left + w]


def ten_crop(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """AlexNet's test views: four corners and the centre, and their mirror images →
    (10, N, C, h, w)."""
    H, W = x.shape[-2:]
    views = [x[..., :h, :w], x[..., :h, W - w:], x[..., H - h:, :w], x[..., H - h:, W - w:],
             center_crop(x, h, w)]
    views += [v.flip(-1) for v in views]
    return torch.stack(views)


def pca_stats(x_uint8: torch.Tensor, max_pixels: int = 1_000_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors of the RGB pixel covariance (AlexNet's colour noise)."""
    pix = x_uint8.permute(0, 2, 3, 1).reshape(-1, x_uint8.shape[1]).float() / 255
    if len(pix) > max_pixels:  # a fixed stride subsample keeps this cheap and deterministic
        pix = pix[:: len(pix) // max_pixels]
    eigval, eigvec = torch.linalg.eigh(torch.cov(pix.T))
    return eigval.clamp_min(0), eigvec


def pca_noise(x: torch.Tensor, eigval: torch.Tensor, eigvec: torch.Tensor, std: float,
              gen: torch.Generator) -> torch.Tensor:
    """Add Σ_i α_i λ_i p_i to every pixel of each image, α_i ~ N(0, std) drawn per image."""
    alpha = torch.randn(x.shape[0], len(eigval), device=x.device, generator=gen) * std
    shift = (alpha * eigval) @ eigvec.T  # (N, C): p_i are the columns of eigvec
    return x + shift.view(x.shape[0], -1, 1, 1)
