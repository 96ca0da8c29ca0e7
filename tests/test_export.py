"""Exports (issue 14): ONNX in one self-contained file with nothing hidden left beside it,
a dynamic batch axis (onnxruntime at batch 1 and 4 equals the torch module; torch.export's
program at batch 4 too), and --checkpoint exporting a training run's weights."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from archdsl.cli.build_cmd import run_build
from archdsl.cli.main import main
from archdsl.train.config import load_config
from archdsl.train.loop import train
from archdsl.train.models import make_model
from conftest import ROOT

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
SPEC = str(ROOT / "specs" / "resnet-cifar.arch")
BUILD = {"model.py", "ir.yaml", "report.json"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two SGD steps of ResNet-8 (n=1) on digits at 16×16: weights that are not the init."""
    out = tmp_path_factory.mktemp("run")
    cfg = load_config(None, {"steps": 2, "batch_size": 32, "input_size": [3, 16, 16],
                             "eval_every": 2, "log_every": 1, "ckpt_every": 2})
    train(SPEC, "digits", cfg, out, params={"n": 1}, quiet=True)
    model = make_model(SPEC, {"n": 1}, 10, (3, 16, 16))
    model.load_state_dict(torch.load(out / "checkpoint.pt", weights_only=True)["model"])
    return out / "checkpoint.pt", model.eval()


def _same(session, model, batch, size=16):
    x = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        want = model(x).numpy()
    got = session.run(None, {"images": x.numpy()})[0]
    assert got.shape == (batch, 10)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_onnx_with_checkpoint_is_one_file_with_a_dynamic_batch(trained, tmp_path, capsys):
    ckpt, model = trained
    out = tmp_path / "b"
    assert main(["build", SPEC, "-o", str(out), "--export", "onnx", "--checkpoint", str(ckpt)]) == 0
    assert {p.name for p in out.iterdir()} == BUILD | {"model.onnx"}     # nothing hidden
    assert not [p for p in tmp_path.rglob(".*")]
    moved = tmp_path / "elsewhere" / "copy.onnx"       # self-contained: it works anywhere
    moved.parent.mkdir()
    shutil.move(out / "model.onnx", moved)
    session = ort.InferenceSession(str(moved), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "batch"
    _same(session, model, 1)
    _same(session, model, 4)
    # a rebuild into the same folder adds nothing (was one hidden 46 MB .data file per build)
    shutil.move(moved, out / "model.onnx")
    assert main(["build", SPEC, "-o", str(out), "--export", "onnx", "--checkpoint", str(ckpt)]) == 0
    assert {p.name for p in out.iterdir()} == BUILD | {"model.onnx"}


def test_pt2_with_checkpoint_runs_at_batch_4(trained, tmp_path):
    ckpt, model = trained
    run_build(SPEC, tmp_path, export="pt2", checkpoint=ckpt)
    program = torch.export.load(str(tmp_path / "model.pt2"))
    for batch in (4, 1):
        x = torch.randn(batch, 3, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-5)


def test_untrained_export_has_a_dynamic_batch_too(tmp_path):
    run_build(SPEC, tmp_path, params={"n": 1}, export="pt2")
    program = torch.export.load(str(tmp_path / "model.pt2"))
    assert tuple(program.module()(torch.randn(4, 3, 32, 32)).shape) == (4, 10)


def test_checkpoint_errors(trained, tmp_path, capsys):
    ckpt, _ = trained
    assert main(["build", SPEC, "-o", str(tmp_path / "a"), "--checkpoint", str(ckpt)]) == 2
    assert "--checkpoint gives the weights of an export" in capsys.readouterr().err
    other = str(ROOT / "specs" / "plain-cifar.arch")
    assert main(["build", other, "-o", str(tmp_path / "b"), "--export", "pt2",
                 "--checkpoint", str(ckpt)]) == 2
    assert "different spec" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
