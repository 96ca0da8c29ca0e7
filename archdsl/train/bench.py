"""Steady-state throughput (images/s) and peak memory of a lowered spec."""
from __future__ import annotations

import resource
import sys
import time
from typing import Any

import torch
import torch.nn.functional as F

from archdsl.ir.limits import Limits
from archdsl.train.config import TrainConfig
from archdsl.train.models import input_shape, make_model
from archdsl.train.runtime import autocast, setup, use_channels_last


def _peak_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def bench(spec: str, params: dict | None = None, *, batch: int = 64, train: bool = False,
          device: str = "auto", compile: bool = False, channels_last: bool = False,
          amp: str = "none", input_size: tuple[int, int, int] | None = None,
          num_classes: int | None = None, warmup: int = 3, iters: int = 10,
          limits: Limits | None = None) -> dict[str, Any]:
    """Time ``iters`` forward (or forward+backward+SGD) passes on a fixed random batch after
    ``warmup`` untimed ones (compilation, cuDNN autotuning, allocator growth). ``limits``
    (:class:`archdsl.ir.limits.Limits`; default: the defaults at ``batch``) are checked first."""
    cfg = TrainConfig(device=device, amp=amp, channels_last="true" if channels_last else "false",
                      compile=compile)
    rt = setup(cfg)
    torch.manual_seed(0)
    model = make_model(spec, dict(params or {}), num_classes, input_size, limits or Limits(batch=batch))
    shape = input_shape(model, input_size or (3, 224, 224))
    model = model.to(rt.device)
    x = torch.randn(batch, *shape, device=rt.device)
    if use_channels_last(cfg, rt.device):
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    fn = torch.compile(model) if compile else model
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train(train)
    y = None
    def step() -> None:
        nonlocal y
        if train:
            with autocast(cfg, rt.device):
                out = fn(x)
            if y is None:
                y = torch.randint(0, out.shape[-1], (batch,), device=rt.device)
            F.cross_entropy(out.float(), y).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        else:
            with torch.no_grad(), autocast(cfg, rt.device):
                fn(x)
    cuda = rt.device.type == "cuda"
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    if cuda:
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"spec": spec, "device": str(rt.device), "mode": "train" if train else "inference",
            "batch": batch, "input_shape": list(shape), "amp": amp, "channels_last": use_channels_last(cfg, rt.device),
            "compile": compile, "images_per_s": batch * iters / dt, "ms_per_batch": 1000 * dt / iters,
            "peak_memory_bytes": torch.cuda.max_memory_allocated() if cuda else _peak_rss_bytes(),
            "peak_memory_kind": "cuda max_memory_allocated" if cuda else "process peak RSS"}
