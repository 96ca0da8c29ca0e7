"""Process setup: device, distributed group (torchrun), determinism, autocast settings."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from archdsl.train.config import TrainConfig
from archdsl.train.errors import TrainError


@dataclass
class Runtime:
    """Where this process runs and how it talks to the others."""

    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes files and prints."""
        return self.rank == 0

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum a tensor over ranks (identity when alone)."""
        if self.world > 1:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def barrier(self) -> None:
        """Wait for all ranks."""
        if self.world > 1:
            dist.barrier()


def setup(cfg: TrainConfig) -> Runtime:
    """Pick the device, join the torchrun group if launched by torchrun (gloo on CPU, nccl on
    CUDA), and apply determinism / cuDNN settings."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    name = cfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = _device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local if world > 1 else torch.cuda.current_device())
    if device.type == "cuda":
        torch.cuda.set_device(device)
        # benchmark picks the fastest conv algorithms for fixed shapes; it is nondeterministic.
        torch.backends.cudnn.benchmark = not cfg.deterministic
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    rank = 0
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    return Runtime(device, rank, world, local)


def _device(name: str) -> torch.device:
    """``torch.device(name)``, refused in one line when it does not exist here (no CUDA,
    or an index past the last GPU) rather than failing later inside torch."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise TrainError(f"--device {name}: not a device (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainError(f"--device {name}: CUDA is not available (torch {torch.__version__}, "
                         f"{'no CUDA build' if torch.version.cuda is None else 'no GPU found'}); "
                         "use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise TrainError(f"--device {name}: there are only {torch.cuda.device_count()} GPUs")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise TrainError(f"--device {name}: MPS is not available here; use --device cpu or auto")
    return device


def teardown(rt: Runtime) -> None:
    """Leave the process group (so torchrun's workers exit cleanly)."""
    if rt.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast when asked (``auto`` = on CUDA only); a no-op context otherwise."""
    amp = cfg.amp if cfg.amp != "auto" else ("bf16" if device.type == "cuda" else "none")
    if amp == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def use_channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    """channels_last memory format (``auto`` = on CUDA, where tensor cores want NHWC)."""
    return cfg.channels_last == "true" or (cfg.channels_last == "auto" and device.type == "cuda")
