"""Resource limits: refused before allocation, located, stating the figure and the limit."""
import pytest

import archdsl
from archdsl.cli.main import main
from archdsl.errors import ArchError
from archdsl.cli.options import parse_bytes
from archdsl.ir.limits import GIB, Limits

HUGE_REPEAT = "input 3×32×32\nconv1: [3×3, 64] ×1000000000\n"


def test_billion_repeat_is_refused_before_expansion():
    with pytest.raises(ArchError) as e:
        archdsl.load(HUGE_REPEAT)
    assert "repeat count 1,000,000,000 exceeds the limit of 10,000" in e.value.message
    assert (e.value.span.line, e.value.span.col) == (2, 19)


def test_depth_limit_is_checked_before_expansion():
    with pytest.raises(ArchError) as e:
        archdsl.load(HUGE_REPEAT, limits=Limits(max_repeat=2_000_000_000))
    assert "1,000,000,000 weighted layers, over the limit of 10,000" in e.value.message
    assert (e.value.span.line, e.value.span.col) == (2, 8)
    g = archdsl.load("input 3×8×8\nc: [3×3, 4] ×30\n", limits=Limits(max_depth=30))
    assert g.depth == 30
    with pytest.raises(ArchError, match="31 weighted layers, over the limit of 30"):
        archdsl.load("input 3×8×8\nc: 3×3, 4\nd: [3×3, 4] ×30\n", limits=Limits(max_depth=30))


def test_param_limit_names_the_layer_and_figures():
    spec = "input 3×8×8\nc: flatten, FC-100000, FC-100000\n"
    with pytest.raises(ArchError) as e:
        archdsl.load(spec)
    assert "10,019,400,000 parameters, over the limit of 2,000,000,000 (crossed at c.fc2)" \
        in e.value.message
    assert (e.value.span.line, e.value.span.col) == (2, 24)
    assert archdsl.load(spec, limits=Limits(max_params=11_000_000_000)).depth == 2


def test_activation_limit_scales_with_batch():
    assert archdsl.load("vgg-e", limits=Limits(batch=256)).depth == 19   # the default admits it
    with pytest.raises(ArchError, match=r"activations need 477\.4 GiB at batch 4096"):
        archdsl.load("vgg-e", limits=Limits(batch=4096))
    with pytest.raises(ArchError, match=r"over the limit of 1\.0 GiB"):
        archdsl.load("vgg-e", limits=Limits(batch=256, max_activation_bytes=GIB))


def test_defaults_admit_the_largest_seed_networks():
    assert archdsl.load("resnet1202", limits=Limits(batch=256)).depth == 1202
    assert archdsl.load("resnet152", limits=Limits(batch=256)).depth == 152


def test_cli_flags_raise_the_limits(tmp_path, capsys):
    f = tmp_path / "deep.arch"
    f.write_text("input 3×8×8\nc: [3×3, 4] ×20000\n")
    assert main(["check", str(f)]) == 2
    assert "exceeds the limit of 10,000" in capsys.readouterr().err
    assert main(["check", str(f), "--max-repeat", "20000", "--max-depth", "40000"]) == 0
    assert main(["check", "vgg-e", "--batch", "4096", "--max-activation", "512GiB"]) == 0
    assert main(["check", "vgg-e", "--batch", "4096"]) == 2


def test_parse_bytes():
    assert parse_bytes("64GiB") == 64 * 2**30
    assert parse_bytes("500MB") == 500 * 10**6
    assert parse_bytes("1024") == 1024
    with pytest.raises(ArchError):
        parse_bytes("lots")


# Every command that builds a spec takes the same budget flags: refused with exit 2 and the
# located error by default, accepted once the flag raises the limit.
SMALL_PARAMS = ["--max-params", "1000"]


@pytest.mark.parametrize("command", [["check"], ["show"], ["report"], ["table"],
                                     ["report", "--sweep", "n=1,2"]])
def test_every_front_end_command_takes_the_limit_flags(command, capsys):
    assert main([*command, "resnet20", *SMALL_PARAMS]) == 2
    err = capsys.readouterr().err
    assert "parameters, over the limit of 1,000 (crossed at conv2.0.conv1)" in err
    assert "--max-params" in err and "Traceback" not in err
    assert main([*command, "resnet20", "--max-params", "300000"]) == 0


def test_report_checks_activations_at_its_own_batch(capsys):
    assert main(["report", "vgg-e", "--batch", "4096"]) == 2
    assert "activations need 477.4 GiB at batch 4096" in capsys.readouterr().err
    assert main(["report", "vgg-e", "--batch", "4096", "--max-activation", "1TiB"]) == 0


def test_build_refused_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", "resnet18", "-o", str(out), *SMALL_PARAMS]) == 2
    assert "11,689,512 parameters, over the limit of 1,000" in capsys.readouterr().err
    assert not out.exists()
    assert main(["build", "resnet-cifar", "-D", "n=3", "-o", str(out), "--max-depth", "10"]) == 2
    assert "20 weighted layers, over the limit of 10" in capsys.readouterr().err
    assert not out.exists()
    assert main(["build", "resnet20", "-o", str(out), "--max-params", "300000"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ir.yaml", "model.py", "report.json"]


def test_train_is_refused_before_reading_data(tmp_path, capsys, monkeypatch):
    import archdsl.train.loop as loop

    def no_data(*a, **k):
        raise AssertionError("the dataset was read before the spec was checked")
    monkeypatch.setattr(loop, "load_data", no_data)
    out = tmp_path / "run"
    assert main(["train", "resnet20", "--data", "digits", "--recipe", "smoke", "--out", str(out),
                 "--max-depth", "10", "--quiet"]) == 2
    assert "20 weighted layers, over the limit of 10" in capsys.readouterr().err
    assert not out.exists()
    # the recipe's batch size is what the activation budget is checked at
    assert main(["train", "resnet20", "--data", "digits", "--recipe", "smoke", "--out", str(out),
                 "--batch", "64", "--max-activation", "1MiB", "--quiet"]) == 2
    assert "at batch 64" in capsys.readouterr().err


def test_bench_is_refused_before_allocating(capsys):
    assert main(["bench", "vgg16", "--batch", "2", "--device", "cpu", *SMALL_PARAMS]) == 2
    assert "138,357,544 parameters, over the limit of 1,000" in capsys.readouterr().err


def test_eval_parses_the_limit_flags():
    from archdsl.cli.main import make_parser
    from archdsl.cli.options import limits_from_args
    args = make_parser().parse_args(["eval", "resnet20", "--checkpoint", "c.pt", "--max-params",
                                     "2e6", "--max-activation", "2GiB", "--max-depth", "50"])
    got = limits_from_args(args, batch=128)
    assert got == Limits(max_params=2_000_000, max_depth=50, max_activation_bytes=2 * GIB,
                         batch=128)


@pytest.mark.parametrize("bad", ["0", "-5", "1.5", "lots"])
def test_limit_flags_reject_nonsense(bad, capsys):
    with pytest.raises(SystemExit) as e:
        main(["check", "resnet20", "--max-params", bad])
    assert e.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_show_bytes_picks_a_readable_unit():
    from archdsl.ir.limits import show_bytes
    assert show_bytes(512) == "512 B"
    assert show_bytes(2**20) == "1.0 MiB"
    assert show_bytes(int(1.5 * GIB)) == "1.5 GiB"
    assert show_bytes(3 * 2**40) == "3.0 TiB"
