"""Resource limits: refused before allocation, located, stating the figure and the limit."""
import time

import pytest

import archdsl
from archdsl.cli import main
from archdsl.errors import ArchError
from archdsl.limits import GIB, Limits, parse_bytes

HUGE_REPEAT = "input 3×32×32\nconv1: [3×3, 64] ×1000000000\n"


def test_billion_repeat_fails_in_milliseconds():
    archdsl.load("input 3×8×8\nc: 3×3, 4\n")          # warm the grammar cache
    t0 = time.perf_counter()
    with pytest.raises(ArchError) as e:
        archdsl.load(HUGE_REPEAT)
    assert time.perf_counter() - t0 < 0.5
    assert "repeat count 1,000,000,000 exceeds the limit of 10,000" in e.value.message
    assert (e.value.span.line, e.value.span.col) == (2, 19)


def test_depth_limit_is_checked_before_expansion():
    t0 = time.perf_counter()
    with pytest.raises(ArchError) as e:
        archdsl.load(HUGE_REPEAT, limits=Limits(max_repeat=2_000_000_000))
    assert time.perf_counter() - t0 < 0.5
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
