"""Data formats and augmentation: CIFAR-10 pickle batches and ImageFolder written here, one
training step on each; batched augmentation ops checked against per-sample slicing."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from archdsl.train import augment as A
from archdsl.train.config import load_config
from archdsl.train.data import load_data
from archdsl.train.errors import TrainError
from archdsl.train.loop import train


def _write_cifar(root, n_per_batch=6):
    rng = np.random.default_rng(0)
    root.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        with open(root / name, "wb") as f:  # the layout of the official python pickles
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data}, f)
    return root


def _write_imagefolder(root):
    colours = {"cat": (200, 30, 30), "dog": (30, 200, 30), "emu": (30, 30, 200)}
    for split, count in (("train", 4), ("val", 1)):
        for cls, rgb in colours.items():
            (root / split / cls).mkdir(parents=True)
            for i in range(count):  # different sizes and aspect ratios, like real photos
                Image.new("RGB", (40 + 4 * i, 36), rgb).save(root / split / cls / f"{i}.png")
    return root


def test_cifar10_pickles_load_and_train(tmp_path):
    root = _write_cifar(tmp_path / "cifar-10-batches-py")
    data = load_data(f"cifar10:{tmp_path}")  # the parent directory is accepted too
    assert data.train_x.shape == (30, 3, 32, 32) and data.test_x.shape == (6, 3, 32, 32)
    with open(root / "data_batch_2", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    # Row layout: 1024 red, then green, then blue values, each row-major.
    assert data.train_x[6, 1, 0, 5].item() == raw[b"data"][0][1024 + 5]
    assert data.train_y[6].item() == raw[b"labels"][0]
    cfg = load_config("smoke", {"steps": 1, "batch_size": 8, "eval_every": 1})
    res = train("testnet:resnet", f"cifar10:{root}", cfg, tmp_path / "run", params={"n": 1}, quiet=True)
    assert res["step"] == 1 and res["test_count"] == 6 and np.isfinite(res["train_loss"])


def test_imagefolder_loads_and_trains_with_imagenet_augmentation(tmp_path):
    root = _write_imagefolder(tmp_path / "folder")
    data = load_data(f"imagefolder:{root}", store_size=36)
    assert data.num_classes == 3 and data.default_augment == "imagenet"
    assert data.train_x.shape == (12, 3, 36, 36) and data.test_x.shape == (3, 3, 36, 36)
    # Label order follows the sorted class folders; colours survive decoding and resizing.
    assert data.train_y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert data.train_x[4, :, 10, 10].tolist() == [30, 200, 30]
    cfg = load_config("imagenet-paper", {"steps": 1, "batch_size": 6, "store_size": 36, "scale_min": 32,
                                         "scale_max": 44, "crop_size": 32, "input_size": [3, 32, 32],
                                         "pca_noise": 0.1, "eval_every": 1})
    res = train("testnet:resnet", f"imagefolder:{root}", cfg, tmp_path / "run", params={"n": 1}, quiet=True)
    assert res["step"] == 1 and res["test_count"] == 3 and np.isfinite(res["train_loss"])


def test_bad_data_specs_are_user_errors(tmp_path):
    with pytest.raises(TrainError, match="unknown data"):
        load_data("mnist")
    with pytest.raises(TrainError, match="CIFAR-10"):
        load_data(f"cifar10:{tmp_path}")


class _Hostile:
    """Unpickling this calls os.system: what a booby-trapped "dataset" would contain."""
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_pickles_never_run_code(tmp_path, protocol):
    root = _write_cifar(tmp_path / "c")
    marker = tmp_path / "pwned"
    with open(root / "data_batch_3", "wb") as f:
        pickle.dump({b"data": _Hostile(marker), b"labels": [0]}, f, protocol=protocol)
    with pytest.raises(TrainError, match=r"data_batch_3: not a CIFAR-10 batch \(refusing posix.system"):
        load_data(f"cifar10:{root}")
    assert not marker.exists()
    with open(root / "data_batch_3", "wb") as f:
        pickle.dump([1, 2, 3], f, protocol=protocol)
    with pytest.raises(TrainError, match="expected a dict with data and labels"):
        load_data(f"cifar10:{root}")
    with open(root / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f, protocol=protocol)
    with pytest.raises(TrainError, match="data_batch_3: not a CIFAR-10 batch"):
        load_data(f"cifar10:{root}")
    with open(root / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, f, protocol=protocol)
    with pytest.raises(TrainError, match="2 images but 1 labels"):
        load_data(f"cifar10:{root}")


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_pickles_of_any_protocol_load(tmp_path, protocol):
    root = tmp_path / "c"
    root.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(root / name, "wb") as f:
            pickle.dump({b"data": np.full((2, 3072), 7, np.uint8), b"labels": [1, 2]}, f,
                        protocol=protocol)
    data = load_data(f"cifar10:{root}")
    assert data.train_x.shape == (10, 3, 32, 32) and int(data.train_x.max()) == 7


def test_crop_and_flip_match_per_sample_slicing():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 12, 12)
    top, left = torch.randint(0, 5, (16,)), torch.randint(0, 5, (16,))
    crops = A.crop_at(x, top, left, 8, 8)
    for i in range(16):
        assert torch.equal(crops[i], x[i, :, top[i]:top[i] + 8, left[i]:left[i] + 8])
    flipped = A.random_flip(x, g)
    same = [torch.equal(flipped[i], x[i]) for i in range(16)]
    mirrored = [torch.equal(flipped[i], x[i].flip(-1)) for i in range(16)]
    assert all(s or m for s, m in zip(same, mirrored)) and 0 < sum(mirrored) < 16
    padded = A.pad_crop(x, 4, g)
    assert padded.shape == x.shape and not torch.equal(padded, x)


def test_ten_crop_views_and_adapt():
    x = torch.arange(36.0).view(1, 1, 6, 6)
    v = A.ten_crop(x, 4, 4)
    assert v.shape == (10, 1, 1, 4, 4)
    assert v[0, 0, 0, 0, 0] == 0 and v[3, 0, 0, -1, -1] == 35 and v[4, 0, 0, 0, 0] == 7
    assert torch.equal(v[5], v[0].flip(-1))
    up = A.adapt(torch.ones(2, 1, 8, 8) * 0.5, (3, 32, 32))
    assert up.shape == (2, 3, 32, 32) and torch.allclose(up, torch.full_like(up, 0.5))


def test_pca_noise_moves_colours_along_principal_axes():
    g = torch.Generator().manual_seed(0)
    imgs = (torch.rand(8, 3, 16, 16) * 255).to(torch.uint8)
    eigval, eigvec = A.pca_stats(imgs)
    assert torch.allclose(eigvec.T @ eigvec, torch.eye(3), atol=1e-5)
    x = torch.zeros(4, 3, 2, 2)
    y = A.pca_noise(x, eigval, eigvec, 0.1, g)
    assert not torch.equal(x, y) and torch.equal(y[:, :, 0, 0], y[:, :, 1, 1])  # one shift per image
