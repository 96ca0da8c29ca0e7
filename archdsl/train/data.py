"""Datasets as in-memory uint8 tensors: digits, synthetic, CIFAR-10 pickles, ImageFolder.

Every loader returns a :class:`Dataset` of ``uint8`` (N, C, H, W) images and int64 labels
on the CPU; :mod:`archdsl.train.pipeline` moves them to the training device once and does
all augmentation there in batches. Data arguments are strings, as on the command line:
``digits``, ``synthetic[:CxHxW[:N]]``, ``cifar10:PATH``, ``imagefolder:PATH``.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from archdsl.extras import need
from archdsl.train.errors import TrainError

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff"}


@dataclass
class Dataset:
    """Train and test splits as uint8 images (N, C, H, W) with int64 labels."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    default_augment: str  # what ``augment: auto`` means for this data

    @property
    def shape(self) -> tuple[int, int, int]:
        """Per-image (C, H, W) as stored."""
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]


def load_data(spec: str, *, val_split: float = 0.0, store_size: int = 256,
              input_size: tuple[int, int, int] | None = None, seed: int = 0) -> Dataset:
    """Load the dataset named by ``spec``; ``val_split`` > 0 replaces the test split by a
    fixed-seed hold-out of the training split (the paper's 45k/5k tuning split)."""
    kind, _, arg = spec.partition(":")
    if kind == "digits":
        data = _digits()
    elif kind == "synthetic":
        data = _synthetic(arg, input_size, seed)
    elif kind == "cifar10":
        data = _cifar10(Path(arg))
    elif kind == "imagefolder":
        data = _imagefolder(Path(arg), store_size, val_split or 0.1)
    else:
        raise TrainError(f"unknown data {spec!r}",
                         hint="use digits, synthetic[:3x32x32[:N]], cifar10:PATH or imagefolder:PATH")
    if val_split > 0 and kind != "imagefolder":
        data = _hold_out(data, val_split, seed)
    return data


def _digits() -> Dataset:
    """scikit-learn's 1,797 8×8 digits (values 0..16), split 80/20 with a fixed seed."""
    # scikit-learn comes with the `train` extra; without it, one line says so
    bunch = need("sklearn.datasets", "--data digits").load_digits()
    x = torch.from_numpy(np.round(bunch.images * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    # Stratification is unnecessary at this size; a seeded permutation keeps it dependency-free.
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_test = len(y) // 5
    te, tr = perm[:n_test], perm[n_test:]
    return Dataset("digits", x[tr], y[tr], x[te], y[te], 10, "padcrop")


def _synthetic(arg: str, input_size, seed: int) -> Dataset:
    """Random images and labels, for throughput measurements only."""
    shape, n = tuple(input_size or (3, 32, 32)), 1024
    parts = [p for p in arg.split(":") if p]
    try:
        if parts:
            shape = tuple(int(v) for v in parts[0].lower().replace("×", "x").split("x"))
        if len(parts) > 1:
            n = int(parts[1])
    except ValueError:
        raise TrainError(f"bad synthetic data {arg!r}", hint="e.g. synthetic:3x224x224:512") from None
    if len(shape) != 3:
        raise TrainError(f"synthetic data needs C×H×W, got {arg!r}")
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n + n // 4, *shape), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n + n // 4,), generator=g)
    return Dataset("synthetic", x[:n], y[:n], x[n:], y[n:], 10, "none")


# Everything a CIFAR-10 batch pickle may name: numpy's array reconstruction (under its
# numpy 1 and numpy 2 module names, for protocols 2–5) and the bytes codec of protocol 2.
_CIFAR_GLOBALS = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray")
                  for n in ("_reconstruct", "scalar")} | {
    (m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")} | {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _CifarUnpickler(pickle.Unpickler):
    """A pickle reader for data, not code: any global outside :data:`_CIFAR_GLOBALS` (the
    ``os.system`` a hostile "dataset" would smuggle in) is refused before it is called."""

    def find_class(self, module: str, name: str):
        if (module, name) in _CIFAR_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}: CIFAR-10 batches hold only "
                                     "arrays, lists and bytes")


def _unpickle(path: Path) -> dict:
    """One CIFAR-10 batch (the distribution *is* a pickle), read without running any code."""
    with open(path, "rb") as f:
        try:
            d = _CifarUnpickler(f, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            raise TrainError(f"{path}: not a CIFAR-10 batch ({e})") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise TrainError(f"{path}: not a CIFAR-10 batch (expected a dict with data and labels)")
    return d


def _cifar10(root: Path) -> Dataset:
    """The CIFAR-10 python batches: data_batch_1..5 and test_batch, each {b"data", b"labels"}."""
    if not (root / "test_batch").is_file() and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    train_files = sorted(root.glob("data_batch_*"))
    if not train_files or not (root / "test_batch").is_file():
        raise TrainError(f"{root}: expected CIFAR-10 python batches (data_batch_1..5, test_batch)")

    def read(files: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for f in files:
            d = _unpickle(f)
            try:
                xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                ys.append(np.asarray(d[b"labels"], dtype=np.int64).reshape(-1))
            except (ValueError, TypeError) as e:
                raise TrainError(f"{f}: not a CIFAR-10 batch ({e})") from None
            if len(xs[-1]) != len(ys[-1]):
                raise TrainError(f"{f}: {len(xs[-1])} images but {len(ys[-1])} labels")
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

    (trx, try_), (tex, tey) = read(train_files), read([root / "test_batch"])
    return Dataset("cifar10", trx, try_, tex, tey, 10, "cifar")


def _load_image(path: Path, size: int) -> np.ndarray:
    """RGB image resized so its shorter side is ``size``, centre-cropped to size×size."""
    Image = need("PIL.Image", "--data imagefolder:PATH")
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)


def _scan(root: Path, classes: list[str] | None = None) -> tuple[list[Path], list[int], list[str]]:
    classes = classes or sorted(p.name for p in root.iterdir() if p.is_dir())
    files, labels = [], []
    for i, c in enumerate(classes):
        for f in sorted((root / c).rglob("*")) if (root / c).is_dir() else []:
            if f.suffix.lower() in _IMAGE_SUFFIXES:
                files.append(f)
                labels.append(i)
    return files, labels, classes


def _stack(files: list[Path], labels: list[int], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.stack([_load_image(f, size) for f in files]).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(labels, dtype=torch.int64)


def _imagefolder(root: Path, size: int, val_split: float) -> Dataset:
    """Class sub-folders of images; ``root/train`` + ``root/val`` if present, else a hold-out.

    Images are decoded once and kept at ``size`` (shorter side, centre square) — enough for
    small and medium sets; full ImageNet would need a streaming loader, not provided here.
    """
    if not root.is_dir():
        raise TrainError(f"{root}: no such directory")
    split_dirs = [root / n for n in ("val", "test") if (root / n).is_dir()]
    if (root / "train").is_dir() and split_dirs:
        files, labels, classes = _scan(root / "train")
        tfiles, tlabels, _ = _scan(split_dirs[0], classes)
        if not files or not tfiles:
            raise TrainError(f"{root}: no images found under train/ and {split_dirs[0].name}/")
        (trx, try_), (tex, tey) = _stack(files, labels, size), _stack(tfiles, tlabels, size)
        return Dataset("imagefolder", trx, try_, tex, tey, len(classes), "imagenet")
    files, labels, classes = _scan(root)
    if len(files) < 2:
        raise TrainError(f"{root}: expected class sub-folders containing images")
    x, y = _stack(files, labels, size)
    data = Dataset("imagefolder", x, y, x[:0], y[:0], len(classes), "imagenet")
    return _hold_out(data, val_split, 0)


def _hold_out(data: Dataset, fraction: float, seed: int) -> Dataset:
    """Replace the test split by a seeded ``fraction`` of the training split."""
    n = len(data.train_y)
    k = min(n - 1, max(1, round(n * fraction)))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 12345))
    te, tr = perm[:k], perm[k:]
    return Dataset(data.name, data.train_x[tr], data.train_y[tr], data.train_x[te],
                   data.train_y[te], data.num_classes, data.default_augment)
