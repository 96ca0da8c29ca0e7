"""Checkpoints: exact resume, refusal of foreign checkpoints, NaN stop keeping the last good one."""
from __future__ import annotations

import json

import pytest
import torch

from archdsl.train import checkpoint
from archdsl.train.__main__ import main
from archdsl.train.config import load_config
from archdsl.train.errors import TrainError
from archdsl.train.loop import train

# n=1 ResNet at 16×16, batch 256: 5 steps per digits epoch, so the 12 steps cross two epoch
# boundaries, the warm-up and both lr milestones — every piece of state a resume must restore.
SETTINGS = {"steps": 12, "batch_size": 256, "lr": 0.1, "warmup_steps": 2, "milestones": [6, 10],
            "input_size": [3, 16, 16], "augment": "cifar", "eval_every": 6, "log_every": 2,
            "ckpt_every": 4, "deterministic": True, "seed": 3}


class Interrupt(Exception):
    pass


def _final(model_holder):
    return {k: v.detach().clone() for k, v in model_holder["model"].state_dict().items()}


def _run(out, resume=False, stop_at=None, **extra):
    holder = {}

    def hook(step, model):
        holder["model"] = model
        if step == stop_at:
            raise Interrupt  # a kill between checkpoints: steps 5..7 are lost
    res = train("testnet:resnet", "digits", load_config(None, {**SETTINGS, **extra}), out,
                params={"n": 1}, resume=resume, on_step=hook, quiet=True)
    return res, holder


def test_resume_is_exact(tmp_path):
    full, h_full = _run(tmp_path / "full")
    with pytest.raises(Interrupt):
        _run(tmp_path / "cut", stop_at=7)
    assert checkpoint.load(tmp_path / "cut" / "checkpoint.pt")["step"] == 4
    resumed, h_res = _run(tmp_path / "cut", resume=True)
    a, b = _final(h_full), _final(h_res)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert resumed["test_acc"] == full["test_acc"] and resumed["lr"] == full["lr"]
    # The resumed metrics log has the same step sequence (rows after step 4 were redone once).
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "full")


def _rows(run):
    return [(r["kind"], r["step"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def test_resume_with_other_seed_differs(tmp_path):
    """Guards the test above against passing trivially (e.g. if training did nothing)."""
    _, h1 = _run(tmp_path / "a", steps=4)
    _, h2 = _run(tmp_path / "b", steps=4, seed=4)
    w1, w2 = _final(h1)["fc.weight"], _final(h2)["fc.weight"]
    assert not torch.equal(w1, w2)


def test_checkpoint_from_other_spec_is_refused(tmp_path, capsys):
    _run(tmp_path / "r", steps=4)
    ckpt = tmp_path / "r" / "checkpoint.pt"
    with pytest.raises(TrainError, match="different spec"):
        checkpoint.load(ckpt, "testnet:plain")
    with pytest.raises(TrainError, match="parameters"):
        checkpoint.load(ckpt, "testnet:resnet", {"n": 2})
    assert main(["eval", "testnet:plain", "--checkpoint", str(ckpt)]) == 2
    assert "different spec" in capsys.readouterr().err
    # Resuming a run directory with another spec is refused the same way.
    with pytest.raises(TrainError, match="different spec"):
        train("testnet:plain", "digits", load_config(None, SETTINGS), tmp_path / "r",
              params={"n": 1}, resume=True, quiet=True)
    # And starting a fresh run over an existing one needs --resume.
    with pytest.raises(TrainError, match="already holds a run"):
        _run(tmp_path / "r")


def test_checkpoint_is_weights_only_and_atomic(tmp_path):
    _run(tmp_path / "r", steps=4)
    state = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4 and state["spec_sha256"] == checkpoint.spec_digest("testnet:resnet")
    assert {"torch", "numpy", "python"} <= state["rng"].keys()
    assert [p.name for p in (tmp_path / "r").iterdir() if p.suffix == ".tmp"] == []


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    def poison(step, model):
        if step == 5:  # corrupt the weights after the step-4 checkpoint
            with torch.no_grad():
                model.fc.weight.fill_(float("nan"))
    cfg = load_config(None, {**SETTINGS, "log_every": 1})
    with pytest.raises(TrainError, match="NaN/Inf by step 6") as err:
        train("testnet:resnet", "digits", cfg, tmp_path / "r", params={"n": 1},
              on_step=poison, quiet=True)
    assert "last good checkpoint" in str(err.value)
    state = checkpoint.load(tmp_path / "r" / "checkpoint.pt")
    assert state["step"] == 4
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_nan_loss_gives_nonzero_exit_from_cli(tmp_path, capsys):
    rc = main(["train", "testnet:resnet", "-D", "n=1", "--recipe", "smoke", "--input", "3x16x16",
               "--lr", "1e30", "--quiet", "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "NaN/Inf" in capsys.readouterr().err
