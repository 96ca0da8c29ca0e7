"""Acceptance: the compiled CIFAR ResNet-20 (specs/resnet-cifar.arch, n=3), adapted to digits,
reaches ≥95 % test accuracy on CPU, and the run leaves metrics.jsonl, curves.png and a
checkpoint that `eval` reproduces."""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from archdsl.lowering import create_model
from archdsl.train.__main__ import main
from archdsl.train.config import load_config
from archdsl.train.loop import train
from conftest import SPEC_DIR

SPEC = str(SPEC_DIR / "resnet-cifar.arch")  # resnet20 is its n=3 member


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "resnet20-digits"
    # Digits 1×8×8 are upsampled on the device to the paper's 3×32×32 input. 250 steps of
    # batch 64 is ~11 epochs, measured at 98.9 % test accuracy (150 steps: 95.5 %, too close).
    cfg = load_config("cifar-paper", {"steps": 250, "batch_size": 64, "milestones": [150, 210],
                                      "input_size": [3, 32, 32], "eval_every": 125,
                                      "log_every": 25, "ckpt_every": 125, "augment": "padcrop"})
    res = train(SPEC, "digits", cfg, out, params={"n": 3}, quiet=True)
    return out, res


def test_resnet20_on_digits_reaches_95_percent(digits_run):
    out, res = digits_run
    print(f"digits ResNet-20: test acc {res['test_acc']:.4f}, {res['images_per_s']:.0f} img/s")
    assert res["test_count"] == 359  # the fixed 20 % split of 1,797 images
    assert res["test_acc"] >= 0.95


def test_the_trained_network_is_the_compiled_spec(digits_run):
    out, _ = digits_run
    trained = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]
    lowered = create_model(SPEC, n=3, num_classes=10).state_dict()
    # IR names (conv2_x.0.conv1 …), not a hand-written net's: the same keys and shapes
    assert {k: v.shape for k, v in trained.items()} == {k: v.shape for k, v in lowered.items()}


def test_metrics_and_png_written(digits_run):
    out, res = digits_run
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    test_rows = [r for r in rows if r["kind"] == "test"]
    assert [r["step"] for r in train_rows] == list(range(25, 251, 25))
    assert [r["step"] for r in test_rows] == [125, 250]
    assert train_rows[-1]["train_err"] < train_rows[0]["train_err"]
    assert abs(test_rows[-1]["test_acc"] - res["test_acc"]) < 1e-12
    assert train_rows[-1]["lr"] == pytest.approx(0.001)  # 0.1 divided twice by 10
    with Image.open(out / "curves.png") as im:
        assert im.size == (800, 500 + 2 * 300)    # error, loss and learning-rate panels
        colours = {c for _, c in im.convert("RGB").getcolors(1 << 20)}
    assert (31, 119, 180) in colours  # the curves were actually drawn


def test_eval_command_reproduces_accuracy(digits_run, capsys):
    out, res = digits_run
    rc = main(["eval", SPEC, "--checkpoint", str(out / "checkpoint.pt"), "--format", "json"])
    assert rc == 0
    single = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert single["test_acc"] == pytest.approx(res["test_acc"])
    rc = main(["eval", SPEC, "--checkpoint", str(out / "checkpoint.pt"), "--format", "json", "--ten-crop"])
    ten = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # Digits are not mirror-symmetric and padcrop training never flips them, so the five
    # mirrored views are near chance (20-37 % each, measured) and pull the averaged softmax
    # below the single view (83.3 % against 98.9 %). This checks the 10-crop path end to end;
    # the geometry of the views is unit-tested in test_train_formats.
    assert rc == 0 and ten["test_count"] == 359 and 0.5 <= ten["test_acc"] < single["test_acc"]
