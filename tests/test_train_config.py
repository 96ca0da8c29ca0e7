"""Recipes → TrainConfig, CLI overrides, the lr schedule, and the bench command."""
from __future__ import annotations

import argparse

import pytest

from archdsl.cli.train_cmd import _overrides, register
from archdsl.train.config import load_config, parse_assignments
from archdsl.train.errors import TrainError
from archdsl.train.loop import lr_factor


def test_cifar_recipe_is_he_et_al():
    c = load_config("cifar-paper")
    assert (c.optimizer, c.momentum, c.weight_decay, c.batch_size) == ("sgd", 0.9, 1e-4, 128)
    assert (c.lr, c.milestones, c.gamma, c.steps) == (0.1, [32000, 48000], 0.1, 64000)
    assert c.augment == "cifar" and c.pad == 4 and c.flip and not c.ten_crop
    c110 = load_config("cifar-paper-110")
    assert (c110.warmup_steps, c110.warmup_lr, c110.milestones) == (400, 0.01, [32000, 48000])


def test_imagenet_recipes():
    r = load_config("imagenet-paper")
    assert (r.batch_size, r.lr, r.weight_decay, r.momentum) == (256, 0.1, 1e-4, 0.9)
    assert (r.scale_min, r.scale_max, r.crop_size, r.ten_crop, r.augment) == (256, 480, 224, True, "imagenet")
    a = load_config("alexnet-paper")  # extends imagenet-paper
    assert (a.batch_size, a.weight_decay, a.pca_noise, a.crop_size) == (128, 5e-4, 0.1, 224)
    v = load_config("vgg-paper")
    assert (v.batch_size, v.weight_decay, v.scale_max) == (256, 5e-4, 512)
    assert load_config("smoke").steps <= 50


def test_unknown_and_ill_typed_settings_are_clear_errors(tmp_path):
    with pytest.raises(TrainError, match="unknown training setting 'lrr'") as e:
        load_config("smoke", {"lrr": 0.1})
    assert "did you mean 'lr'" in e.value.render()
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: smoke\nwarmup_step: 3\n")
    with pytest.raises(TrainError, match="unknown training setting 'warmup_step'") as e:
        load_config(str(bad))
    assert (e.value.span.file, e.value.span.line, e.value.span.col) == (str(bad), 2, 1)
    with pytest.raises(TrainError, match="steps must be int"):
        load_config(None, {"steps": "many"})
    with pytest.raises(TrainError, match="amp must be one of"):
        load_config(None, {"amp": "fp16"})
    with pytest.raises(TrainError, match="not found"):
        load_config("no-such-recipe")
    with pytest.raises(TrainError, match="eval_every must be at least 1"):
        load_config("smoke", {"eval_every": 0})


def test_cli_overrides_every_field():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["train", "spec.arch", "-D", "n=5", "--out", "runs/x", "--lr", "0.05",
                              "--set", "milestones=[10, 20]", "--set", "flip=false",
                              "--input", "3x32x32", "--channels-last"])
    c = load_config("cifar-paper", _overrides(args))
    assert (c.lr, c.milestones, c.flip, c.input_size, c.channels_last) == (0.05, [10, 20], False, [3, 32, 32], "true")
    assert parse_assignments(["n=5", "name=x"]) == {"n": 5, "name": "x"}
    with pytest.raises(TrainError, match="key=value"):
        parse_assignments(["oops"])


def test_lr_schedule_warmup_and_steps():
    f = lr_factor(load_config("cifar-paper-110"))
    lrs = [0.1 * f(s) for s in (0, 399, 400, 31999, 32000, 47999, 48000)]
    assert lrs == pytest.approx([0.01, 0.01, 0.1, 0.1, 0.01, 0.01, 0.001])


def test_bench_reports_throughput_and_memory(capsys):
    from archdsl.train.__main__ import main
    rc = main(["bench", "testnet:resnet", "-D", "n=1", "--batch", "8", "--input", "3x16x16",
               "--train", "--iters", "2", "--warmup", "1", "--format", "json"])
    import json
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and res["mode"] == "train" and res["batch"] == 8 and res["input"] == [3, 16, 16]
    assert res["images_per_s"] > 0 and res["peak_memory_bytes"] > 10 * 2**20


@pytest.mark.parametrize("value, error", [
    ("[1, 2]", "expected a number or a comma list of numbers"),
    ("__import__('os').getcwd()", "expected a number or a comma list of numbers"),
    ("n", "expected a number or a comma list of numbers"),
    ("3.5", "repeat count must be a whole number, not 3.5")])   # a number, refused where used
def test_train_defines_are_numbers_only(value, error, tmp_path, capsys):
    """-D is parsed as for every other command (never YAML or Python): exit 2, nothing written."""
    from archdsl.train.__main__ import main
    rc = main(["train", "resnet-cifar", "-D", f"n={value}", "--recipe", "smoke",
               "--out", str(tmp_path / "run")])
    assert rc == 2
    assert error in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
