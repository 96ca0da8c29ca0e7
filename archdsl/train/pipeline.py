"""The device-side input pipeline: resident data, sharded epoch order, batch augmentation.

The dataset is copied to the training device once (uint8, so CIFAR-10 is 180 MB); each step
indexes it with a slice of a device-resident permutation, so the step loop never waits on
the host. Ranks share one permutation (same seed) and take interleaved slices of each
global batch — the DistributedSampler scheme without a DataLoader.
"""
from __future__ import annotations

import torch

from archdsl.train import augment as A
from archdsl.train.config import TrainConfig
from archdsl.train.data import Dataset
from archdsl.train.errors import TrainError


class Pipeline:
    """Batches of normalised float images shaped for the model, plus the sampler state."""

    def __init__(self, data: Dataset, cfg: TrainConfig, in_shape: tuple[int, int, int],
                 device: torch.device, rank: int = 0, world: int = 1):
        self.cfg, self.in_shape, self.device = cfg, tuple(in_shape), device
        self.rank, self.world = rank, world
        self.aug = data.default_augment if cfg.augment == "auto" else cfg.augment
        self.num_classes = data.num_classes
        where = device if cfg.resident else torch.device("cpu")
        self.train_x, self.train_y = data.train_x.to(where), data.train_y.to(where)
        self.test_x, self.test_y = data.test_x.to(where), data.test_y.to(where)
        n = len(self.train_y)
        self.batch = min(cfg.batch_size, n - n % world)
        if self.batch % world:
            raise TrainError(f"batch_size {cfg.batch_size} does not split over {world} processes")
        # Per-channel statistics of the training set (in [0,1]), broadcast to the model's channels.
        xf = self.train_x[: 50_000].float().div_(255)
        mean, std = xf.mean((0, 2, 3)), xf.std((0, 2, 3)).clamp_min(1e-3)
        if len(mean) != in_shape[0]:
            mean, std = mean.mean().expand(in_shape[0]), std.mean().expand(in_shape[0])
        self.mean = mean.to(device).view(1, -1, 1, 1)
        self.std = (std if cfg.normalize == "meanstd" else torch.ones_like(std)).to(device).view(1, -1, 1, 1)
        self.pca = None
        if cfg.pca_noise > 0 and data.shape[0] == 3:
            self.pca = tuple(t.to(device) for t in A.pca_stats(data.train_x[:50_000]))
        # Data order: one CPU generator shared by all ranks; augmentation: one per rank, on device.
        self.order_gen = torch.Generator().manual_seed(cfg.seed)
        self.aug_gen = torch.Generator(device=device).manual_seed(cfg.seed * 1000 + rank + 1)
        self.epoch, self.pos, self.perm = 0, 0, self._new_perm()

    # --- sampler state -------------------------------------------------------------------
    def _new_perm(self) -> torch.Tensor:
        return torch.randperm(len(self.train_y), generator=self.order_gen).to(self.train_x.device)

    def state_dict(self) -> dict:
        """Everything needed to replay the same batches and augmentations after a resume."""
        return {"epoch": self.epoch, "pos": self.pos, "perm": self.perm.cpu(),
                "order_gen": self.order_gen.get_state(), "aug_gen": self.aug_gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (the checkpoint must come from the same world size)."""
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self.perm = state["perm"].to(self.train_x.device)
        self.order_gen.set_state(state["order_gen"])
        self.aug_gen.set_state(state["aug_gen"])

    @property
    def steps_per_epoch(self) -> int:
        """Full global batches per epoch (the remainder is dropped, as with drop_last)."""
        return len(self.train_y) // self.batch

    # --- batches -------------------------------------------------------------------------
    def next_indices(self) -> torch.Tensor:
        """Training-set indices of this rank's share of the next global batch (advances)."""
        if self.pos + self.batch > len(self.perm):
            self.epoch, self.pos, self.perm = self.epoch + 1, 0, self._new_perm()
        idx = self.perm[self.pos + self.rank: self.pos + self.batch: self.world]
        self.pos += self.batch
        return idx

    def next_train(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of the next global training batch, augmented."""
        idx = self.next_indices()
        x, y = self.train_x[idx], self.train_y[idx]
        return self._train_view(x.to(self.device, non_blocking=True)), y.to(self.device, non_blocking=True)

    def _to_float(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255)

    def _train_view(self, x: torch.Tensor) -> torch.Tensor:
        x, g, cfg = self._to_float(x), self.aug_gen, self.cfg
        if self.aug == "imagenet":
            # S comes from the (CPU, checkpointed, rank-shared) data-order generator.
            x = A.scale_jitter_crop(x, cfg.scale_min, cfg.scale_max, cfg.crop_size, g, self.order_gen)
        x = A.adapt(x, self.in_shape)
        if self.pca is not None:
            x = A.pca_noise(x, *self.pca, cfg.pca_noise, g)
        x = (x - self.mean) / self.std
        if self.aug in ("padcrop", "cifar"):
            x = A.pad_crop(x, self._pad(), g)
        if cfg.flip and self.aug in ("cifar", "imagenet"):
            x = A.random_flip(x, g)
        return x

    def _pad(self) -> int:
        # ``pad`` is specified for 32-pixel inputs (the paper's 4); scale it with the input.
        return max(1, round(self.cfg.pad * self.in_shape[-1] / 32)) if self.cfg.pad else 0

    def eval_views(self, x: torch.Tensor, ten: bool) -> torch.Tensor:
        """Test views (V, N, C, H, W): V=1 single centre view, or V=10 for the 10-crop test."""
        x, (_, h, w) = self._to_float(x.to(self.device, non_blocking=True)), self.in_shape
        if self.aug == "imagenet":
            crop = self.cfg.crop_size
            views = A.ten_crop(x, crop, crop) if ten else A.center_crop(x, crop, crop)[None]
            views = torch.stack([A.adapt(v, self.in_shape) for v in views])
        else:
            x = A.adapt(x, self.in_shape)
            if ten:  # corners of the padded image: the same offsets training crops could take
                p = self._pad()
                views = A.ten_crop(torch.nn.functional.pad(x, (p, p, p, p)), h, w)
            else:
                views = x[None]
        return (views - self.mean) / self.std

    def eval_indices(self) -> torch.Tensor:
        """This rank's test samples: every ``world``-th one, so each is counted exactly once."""
        return torch.arange(self.rank, len(self.test_y), self.world, device=self.test_y.device)
