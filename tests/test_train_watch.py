"""Training people can watch (issue 14): elapsed/ETA progress on and off a terminal, top-1
and top-5 accuracy, best.pt beside checkpoint.pt, eval without a spec (the checkpoint's
own, even when its file is gone), and a curves PNG with error, loss and lr panels."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from archdsl.cli.main import main
from archdsl.train.feedback import Progress
from conftest import ROOT

SETTINGS = ["--steps", "6", "--batch", "32", "--input", "16x16", "--set", "log_every=1",
            "--set", "eval_every=2", "--set", "ckpt_every=6", "--set", "lr=0.05",
            "--set", "milestones=[4]"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Six steps of ResNet-8 from a spec file that is deleted afterwards; stdout kept."""
    base = tmp_path_factory.mktemp("watch")
    spec = base / "mynet.arch"
    shutil.copy(ROOT / "specs" / "resnet-cifar.arch", spec)
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", str(spec), "-D", "n=1", "-o", str(base / "r"), *SETTINGS]) == 0
    spec.unlink()
    return base / "r", out.getvalue()


def test_off_a_terminal_each_log_line_has_elapsed_and_eta(run):
    _, out = run
    lines = [l for l in out.splitlines() if l.startswith("step")]
    assert len(lines) == 6 and lines[0].split()[1] == "1/6"
    assert all(" elapsed  ETA " in l for l in lines) and "ETA 0:00:00" in lines[-1]
    assert "top-5" in lines[1] and "top-5" in out.splitlines()[-1]


def test_on_a_terminal_the_bar_shows_elapsed_and_eta():
    from rich.progress import TimeElapsedColumn, TimeRemainingColumn
    p = Progress(100, 10, enabled=True)
    try:
        kinds = {type(c) for c in p.bar.columns}
        assert {TimeElapsedColumn, TimeRemainingColumn} <= kinds
    finally:
        p.close()
    elapsed, left = Progress(100, 10, enabled=False).eta(30, now=None)
    assert left is not None and left >= 0
    p = Progress(100, 10, enabled=False)
    assert p.eta(30, now=p.t0 + 20) == (20, 70)        # 1 s per step, 70 steps to go
    from archdsl.train.feedback import clock
    assert clock(3725.2) == "1:02:05"


def test_top5_and_best_checkpoint(run):
    out, _ = run
    rows = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    tests = [r for r in rows if r["kind"] == "test"]
    assert [r["step"] for r in tests] == [2, 4, 6]
    assert all(r["test_acc"] <= r["test_top5_acc"] <= 1 for r in tests)
    best = max(tests, key=lambda r: r["test_acc"])     # the first of equals is kept
    first_best = next(r for r in tests if r["test_acc"] == best["test_acc"])
    ckpt = torch.load(out / "best.pt", weights_only=True)
    assert ckpt["step"] == first_best["step"] and ckpt["best_test_acc"] == best["test_acc"]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 6


def test_eval_without_a_spec_uses_the_checkpoints(run, capsys):
    out, _ = run
    assert main(["eval", "--checkpoint", str(out / "best.pt"), "-f", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    best = torch.load(out / "best.pt", weights_only=True)
    assert res["step"] == best["step"] and res["test_acc"] == pytest.approx(best["best_test_acc"])
    assert {"test_top5_acc", "test_top5_err", "view", "checkpoint"} <= set(res)


def test_curves_show_error_loss_and_lr(run):
    from PIL import Image
    out, _ = run
    with Image.open(out / "curves.png") as im:
        w, h = im.size
        assert (w, h) == (800, 500 + 2 * 300)           # three panels
        # the lr panel (bottom) draws a green curve (palette colour 2)
        lr_panel = im.convert("RGB").crop((0, 800, 800, 1100))
        assert (44, 160, 44) in {c for _, c in lr_panel.getcolors(1 << 20)}
