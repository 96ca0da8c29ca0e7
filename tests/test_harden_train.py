"""Training inputs a hostile user controls are one-line errors (issue 16): settings (flags,
``--set``, recipe files), tampered checkpoints, tampered metrics files, a second run into a
held directory; a checkpoint with NaN weights evaluates with a warning."""
from __future__ import annotations

import json

import pytest
import torch

from conftest import run_cli
from archdsl.atomic import locked_dir
from archdsl.errors import ArchError
from archdsl.train import checkpoint
from archdsl.train.config import load_config, parse_assignments
from archdsl.train.errors import TrainError
from archdsl.train.feedback import _parse
from archdsl.train.loop import build, train
from archdsl.train.runtime import setup

SPEC = "testnet:plain"


# ---- settings ---------------------------------------------------------------------------

@pytest.mark.parametrize("key,value,message", [
    ("device", "tpu", "device must be"), ("lr", -1, "lr must be greater than 0"),
    ("lr", float("nan"), "finite"), ("label_smoothing", 5, r"label_smoothing must be in \[0, 1\)"),
    ("val_split", 1.5, r"val_split must be in \[0, 1\)"), ("momentum", 2, "momentum"),
    ("weight_decay", -0.1, "weight_decay"), ("seed", -1, "seed"), ("steps", 10 ** 30, "too large"),
    ("input_size", [3, 32], "three numbers"), ("milestones", [-5], "non-negative")])
def test_out_of_range_settings_are_refused(key, value, message):
    with pytest.raises(TrainError, match=message):
        load_config(None, {key: value})


def test_recipe_files_are_validated_on_load_at_the_key(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("extends: smoke\nlabel_smoothing: 5\n")
    with pytest.raises(TrainError, match="label_smoothing") as e:
        load_config(str(recipe))
    assert (e.value.span.line, e.value.span.col) == (2, 1)
    recipe.write_text("steps: " + "9" * 5000 + "\n")
    with pytest.raises(TrainError, match="too large"):
        load_config(str(recipe))


def test_set_values_are_bounded():
    with pytest.raises(TrainError, match="number too large"):
        parse_assignments(["steps=" + "9" * 5000])
    assert parse_assignments(["lr=0.05"]) == {"lr": 0.05}


@pytest.mark.parametrize("argv", [("--device", "tpu"), ("--lr", "-1"), ("--set", "label_smoothing=5"),
                                  ("--set", "val_split=1.5"), ("--lr", "nan"), ("--seed", "9" * 40)])
def test_bad_training_flags_are_one_line_and_write_nothing(argv, tmp_path):
    rc, err = run_cli("train", SPEC, "-o", str(tmp_path / "run"), *argv)
    assert rc == 2 and "error:" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_an_unavailable_device_is_one_line():
    with pytest.raises(TrainError, match="CUDA is not available"):
        setup(load_config(None, {"device": "cuda"}))


# ---- checkpoints ------------------------------------------------------------------------

def _checkpoint(tmp_path, **changes):
    cfg = load_config("smoke", {"device": "cpu"})
    model, _ = build(SPEC, {}, cfg, "digits", setup(cfg))
    state = {"model": model.state_dict(), "config": cfg.to_dict(), "params": {}, "step": 3,
             "spec_sha256": checkpoint.spec_digest(SPEC), **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del state[key]
    path = tmp_path / "c.pt"
    checkpoint.save(path, state)
    return path, state


@pytest.mark.parametrize("changes,message", [
    ({"spec_sha256": None}, "'spec_sha256' is missing"), ({"spec_sha256": 7}, "'spec_sha256' is int"),
    ({"model": {}}, "holds no weights"), ({"model": {"w": [1, 2]}}, "only tensors"),
    ({"step": "3"}, "'step' is str"), ({"config": None}, "'config' is missing")])
def test_tampered_checkpoints_are_one_line(changes, message, tmp_path):
    path, _ = _checkpoint(tmp_path, **changes)
    with pytest.raises(TrainError, match=message):
        checkpoint.load(path, SPEC)
    rc, err = run_cli("eval", SPEC, "--checkpoint", str(path))
    assert rc == 2 and message.split("'")[1 if "'" in message else 0] in err


def test_wrong_shapes_in_a_checkpoint_are_one_line(tmp_path):
    path, state = _checkpoint(tmp_path)
    name = next(k for k, v in state["model"].items() if v.dim() == 4)
    state["model"][name] = torch.zeros(1, 1, 1, 1)
    checkpoint.save(path, state)
    rc, err = run_cli("eval", SPEC, "--checkpoint", str(path))
    assert rc == 2 and "does not fit this model" in err and len(err.strip().splitlines()) == 2


def test_nan_weights_evaluate_with_a_warning(tmp_path):
    path, state = _checkpoint(tmp_path)
    name = next(k for k, v in state["model"].items() if v.dim() == 4)
    state["model"][name] = torch.full_like(state["model"][name], float("nan"))
    checkpoint.save(path, state)
    assert checkpoint.weights_warning(state) and name in checkpoint.weights_warning(state)
    rc, err = run_cli("eval", SPEC, "--checkpoint", str(path))
    assert rc == 0 and "NaN or infinite" in err and name in err
    clean, state = _checkpoint(tmp_path)
    assert checkpoint.weights_warning(state) is None


# ---- metrics files ----------------------------------------------------------------------

GOOD = {"kind": "train", "step": 5, "train_err": 50.0, "train_loss": 1.2, "lr": 0.1}


@pytest.mark.parametrize("row,message", [
    ([1, 2], "JSON object"), ({**GOOD, "step": "5"}, "'step' must be a whole number"),
    ({**GOOD, "step": True}, "whole number"), ({**GOOD, "kind": "other"}, "'kind' must be"),
    ({k: v for k, v in GOOD.items() if k != "train_err"}, "needs numbers train_err"),
    ({"kind": "test", "step": 5}, "needs numbers test_err")])
def test_tampered_metrics_rows_are_one_line(row, message, tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(row) + "\n" + json.dumps(GOOD) + "\n")
    with pytest.raises(TrainError, match=message) as e:
        _parse(path)
    assert "line 2" in e.value.message


def test_metrics_that_are_not_utf8_or_not_json_are_one_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n\xff\xfe\n")
    with pytest.raises(TrainError, match="line 2 is not UTF-8"):
        _parse(path)
    path.write_text(json.dumps(GOOD) + "\n" + "9" * 5000 + "\n" + json.dumps(GOOD) + "\n")
    with pytest.raises(TrainError, match="line 2 is not a JSON row"):
        _parse(path)
    path.write_text(json.dumps(GOOD) + "\n" + '{"kind": "tr')   # cut short by a kill: dropped
    assert _parse(path) == [GOOD]


# ---- one run per directory --------------------------------------------------------------

def test_a_second_train_into_a_held_run_directory_is_refused(tmp_path):
    out = tmp_path / "run"
    with locked_dir(out, "train run"):
        with pytest.raises(ArchError, match="in use by another archdsl train run"):
            train(SPEC, "digits", load_config("smoke", {"device": "cpu"}), out, quiet=True)
    assert list(out.iterdir()) == []   # the refused run wrote nothing


# ---- check passing means torch accepts (the rules against the real thing) -----------------

import archdsl  # noqa: E402
from archdsl.lowering import create_model  # noqa: E402

NET = "network t\ninput 3×16×16\nclasses 4\nconv1 16×16: 3×3, 8\n{row}\nhead: average pool, fc-4\n"


def test_32_bit_window_rule_matches_torch():
    x = torch.randn(1, 8, 16, 16)
    with pytest.raises(RuntimeError):
        torch.nn.MaxPool2d(3, stride=2 ** 31)(x)
    with pytest.raises(ArchError, match="32-bit"):
        archdsl.load(NET.format(row="pool: 3×3 max pool, stride 2147483648"))
    torch.nn.MaxPool2d(3, stride=2 ** 31 - 1)(x)   # and the largest admitted value works in both
    model = create_model(archdsl.load(NET.format(row="pool: 3×3 max pool, stride 2147483647")))
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 4)


def test_a_map_head_is_refused_as_torch_losses_refuse_it():
    with pytest.raises((RuntimeError, ValueError)):
        torch.nn.functional.cross_entropy(torch.randn(2, 4, 1, 1), torch.tensor([0, 1]))
    text = "network t\ninput 3×16×16\nclasses 4\nconv1 16×16: 3×3, 8\nhead: average pool, 1×1, 4"
    with pytest.raises(ArchError, match="ends in a 4×1×1 map"):
        archdsl.load(text + "\n")
    model = create_model(archdsl.load(text + ", flatten\n"))
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 4)


def test_a_pool_window_wider_than_its_input_is_refused_as_torch_refuses_it():
    with pytest.raises(RuntimeError):
        torch.nn.MaxPool2d(32, stride=32)(torch.randn(1, 8, 16, 16))
    with pytest.raises(ArchError, match="larger than its 16-pixel input"):
        archdsl.load(NET.format(row="pool: 32×32 max pool"))
    model = create_model(archdsl.load(NET.format(row="pool: 16×16 max pool")))   # fits exactly
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 4)


def test_lrn_up_to_its_channel_count_builds_and_runs():
    with pytest.raises(ArchError, match="LRN size 9 is larger than its 8 input channels"):
        archdsl.load(NET.format(row="n: lrn(size=9)"))
    model = create_model(archdsl.load(NET.format(row="n: lrn(size=8)")))
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 4)


def test_recipe_aliases_are_refused(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("a: &a [*a]\n")
    with pytest.raises(TrainError, match="aliases") as e:
        load_config(str(recipe))
    assert e.value.span.line == 1


@pytest.mark.parametrize("text", ["３x32x32", "3x" + "9" * 5000 + "x3", "3x0x3"])
def test_input_sizes_are_bounded_ascii(text):
    from archdsl.cli.options import parse_input
    with pytest.raises(ArchError, match="bad input size"):
        parse_input(text)
