"""One error type: every failure a user can cause past the front end (lowering, weight import,
export, training: recipe, data, checkpoint) is an ArchError, located where there is a source,
and the CLI prints it like a compiler (``file:line:col: error: …``) and exits 2."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from archdsl.cli.main import main
from archdsl.errors import COMMAND_LINE, ArchError
from test_count_nets import tiny_resnet, tiny_vgg

ROOT = Path(__file__).resolve().parents[1]
LOCATED = re.compile(r"^(?P<file>[^\n:]+):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>[^\n]+)$")


def first_line(err: str) -> re.Match:
    """The diagnostic's first line as ``file:line:col: error: message``; no traceback."""
    assert "Traceback" not in err, err
    m = LOCATED.match(err.splitlines()[0]) if err else None
    assert m, f"not a located diagnostic: {err!r}"
    return m


# ---- lowering -----------------------------------------------------------------------------

def test_load_graph_refusals_are_located_arch_errors():
    from archdsl.lowering import load_graph
    g = tiny_vgg()
    with pytest.raises(ArchError, match="built with 3 classes, not 7") as e:
        load_graph(g, num_classes=7)
    assert e.value.span == g.nodes[-1].span and not isinstance(e.value, ValueError)
    with pytest.raises(ArchError, match="parameters n cannot be applied") as e:
        load_graph(g, n=3)
    assert e.value.span == g.nodes[0].span and not isinstance(e.value, TypeError)


def test_a_graph_the_lowering_cannot_follow_never_shows_a_traceback(tmp_path):
    """An ir.yaml edited by hand (a residual add's inputs swapped) passes lint; lowering it
    either works or is refused with a diagnostic and exit 2, never a traceback."""
    assert main(["build", "resnet20", "-o", str(tmp_path / "a")]) == 0
    text = (tmp_path / "a" / "ir.yaml").read_text()
    swapped = text.replace("inputs: [conv2.0.bn2, conv1.relu]", "inputs: [conv1.relu, conv2.0.bn2]", 1)
    assert swapped != text
    (tmp_path / "swap.ir.yaml").write_text(swapped)
    r = _cli("build", str(tmp_path / "swap.ir.yaml"), "-o", str(tmp_path / "b"), cwd=tmp_path)
    assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr
    if r.returncode == 2:
        assert r.stderr.startswith("error: conv2.0.add") and not (tmp_path / "b").exists()


# ---- weights ------------------------------------------------------------------------------

def test_weight_mismatch_is_located_at_the_layer_s_spec_line():
    from archdsl.lowering import create_model, load_torchvision_weights
    from archdsl.lowering.lower import lower
    from archdsl.lowering.weights import WeightMismatch
    ours, other = lower(tiny_resnet()), lower(tiny_resnet(width=8)).state_dict()
    with pytest.raises(WeightMismatch) as e:
        load_torchvision_weights(ours, other)
    assert isinstance(e.value, ArchError) and isinstance(e.value, ValueError)  # as before
    assert e.value.span == ours.graph.nodes[0].span            # conv1.conv, the first to differ
    paper = create_model("resnet20")
    wide = create_model("resnet-cifar", n=3, classes=100)
    with pytest.raises(WeightMismatch) as e:
        load_torchvision_weights(paper, wide.state_dict())
    m = first_line(e.value.render())
    assert m["file"].endswith("resnet-cifar.arch") and "head.fc" in e.value.render()


# ---- export -------------------------------------------------------------------------------

def test_an_unknown_export_format_is_an_arch_error(tmp_path):
    from archdsl.cli.build_cmd import run_build
    from archdsl.lowering.export import check_available
    with pytest.raises(ArchError, match="unknown export format 'tflite'") as e:
        check_available("tflite")
    assert e.value.span == COMMAND_LINE
    with pytest.raises(ArchError, match="unknown export format"):
        run_build(tiny_resnet(), tmp_path / "o", export="tflite")
    assert not (tmp_path / "o").exists()


# ---- training -----------------------------------------------------------------------------

RECIPES = [   # recipe text, (line, col) of the offending key or character, message
    ("extends: smoke\nlr: 0.1\nwarmup_step: 3\n", (3, 1), "unknown training setting 'warmup_step'"),
    ("lr: [1\nsteps: 2\n", (2, 6), "not valid YAML"),
    ("extends: smoke\nsteps: many\n", (2, 1), "steps must be int, got 'many'"),
    ("amp: fp16\n", (1, 1), "amp must be one of auto, none, bf16"),
    ("extends: no-such-recipe\n", (1, 1), "recipe 'no-such-recipe' not found"),
    ("extends: self.yaml\n", (1, 1), "recipes extend each other in a cycle"),
    ("- lr\n- 0.1\n", (1, 1), "a recipe must be a mapping"),
    ("lr: 0.1\neval_every: 0\n", (2, 1), "eval_every must be at least 1, got 0"),
    ("x: !!python/name:os.system\n", (1, 4), "not valid YAML"),
]


@pytest.mark.parametrize("text, at, message", RECIPES)
def test_recipe_errors_are_located_in_the_recipe(text, at, message, tmp_path, capsys):
    recipe = tmp_path / "self.yaml"
    recipe.write_text(text)
    assert main(["train", "resnet20", "--recipe", str(recipe), "-o", str(tmp_path / "run"),
                 "--quiet"]) == 2
    m = first_line(capsys.readouterr().err)
    assert (m["file"], int(m["line"]), int(m["col"])) == (str(recipe), *at)
    assert m["msg"].startswith(message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "resnet20", "--data", "mnist", "-o", "{tmp}/r", "--recipe", "smoke"], "unknown data"),
    (["train", "resnet20", "--set", "lrr=1", "-o", "{tmp}/r"], "unknown training setting 'lrr'"),
    (["train", "resnet20", "--set", "oops", "-o", "{tmp}/r"], "--set expects key=value"),
    (["train", "resnet-cifar", "-D", "n=x", "-o", "{tmp}/r"], "bad value 'x'"),
    (["eval", "resnet20", "--checkpoint", "{tmp}/none.pt"], "checkpoint"),
    (["bench", "testnet:vgg", "--device", "cpu"], "unknown test net 'vgg'"),
])
def test_training_errors_exit_2_with_one_diagnostic(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.lstrip().split("\n")[0].count("error:") == 1
    assert message in err.splitlines()[0]


def test_a_foreign_checkpoint_is_refused(tmp_path, capsys):
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["eval", "resnet20", "--checkpoint", str(bad)]) == 2
    assert "not a loadable archdsl checkpoint" in capsys.readouterr().err


def test_data_the_model_cannot_take_is_a_train_error():
    import torch
    from archdsl.train.augment import adapt
    from archdsl.train.errors import TrainError
    with pytest.raises(TrainError, match="cannot adapt 2-channel images to a 3-channel input"):
        adapt(torch.zeros(1, 2, 8, 8), (3, 8, 8))


# ---- the real command, in a fresh process --------------------------------------------------

def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archdsl", *argv], cwd=cwd, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT)}, timeout=300)


def test_python_m_archdsl_prints_a_recipe_error_like_a_compiler(tmp_path):
    (tmp_path / "r.yaml").write_text("extends: smoke\nlearning_rate: 0.1\n")
    r = _cli("train", "resnet20", "--recipe", "r.yaml", "-o", "run", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[:3] == [
        "r.yaml:2:1: error: unknown training setting 'learning_rate'",
        "  learning_rate: 0.1",
        "  ^^^^^^^^^^^^^"]
