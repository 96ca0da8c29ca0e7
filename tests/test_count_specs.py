"""The paper's and torchvision's published figures, reproduced from the specs (torch-free).

Reference numbers from /work/shared/REFERENCE.md live here only, never in the code.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from archdsl import api
from archdsl.analysis.count import count
from archdsl.errors import ArchError
from conftest import ROOT, SPEC_NAMES as SPECS

PAPER_MACS = {  # the ResNet paper's "FLOPs" (multiply-adds), to the paper's rounding
    "resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6,
    "resnet152": 11.3, "vgg-e": 19.6, "plain34": 3.6,
}
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808, "vgg-a": 132_863_336,
    "vgg-b": 133_047_848, "vgg-d": 138_357_544, "vgg-e": 143_667_240,
    "vgg16-bn": 138_365_992, "alexnet-torchvision": 61_100_840,
}
CIFAR = {3: (269_722, 0.27), 5: (464_154, 0.46), 7: (658_586, 0.66), 9: (853_018, 0.85),
         18: (1_727_962, 1.7), 200: (19_421_274, 19.4)}


def test_specs_present():
    assert len(SPECS) >= 10, SPECS


@pytest.mark.parametrize("name", sorted(PAPER_MACS))
def test_paper_flops(name):
    macs = count(api.load(name), convention="paper").total.cost
    # the paper truncates some figures (3.66 -> 3.6, 3.86 -> 3.8) and rounds others (7.57 -> 7.6)
    assert abs(macs / 1e9 - PAPER_MACS[name]) < 0.07, macs


def test_resnet50_v1_and_v15_exact():
    assert count(api.load("resnet50"), convention="paper").total.cost == 3_857_973_248
    v15 = count(api.load("resnet50-v1.5"))
    assert v15.total.macs == 4_089_184_256
    # fvcore on torchvision's resnet50: + BN 22,227,968 + avgpool 100,352
    assert v15.total.cost == 4_111_512_576 and v15.total.bn == 22_227_968


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_params_equal_torchvision(name):
    assert count(api.load(name)).total.params == TORCHVISION_PARAMS[name]


@pytest.mark.parametrize("n", sorted(CIFAR))
def test_cifar_family_params(n):
    exact, rounded = CIFAR[n]
    g = api.load("resnet-cifar", n=n)
    params = count(g).total.params
    assert params == exact
    assert round(params / 1e6, 2 if rounded < 1 else 1) == rounded
    assert g.depth == 6 * n + 2


def test_alexnet_paper():
    c = count(api.load("alexnet"), convention="paper")
    assert c.total.params == 60_965_224 and c.total.cost == 724_406_816
    assert count(api.load("alexnet")).total.cost == 724_406_816  # fvcore: LRN/pools uncounted


def test_vgg19_at_other_input_needs_the_fc_size():
    with pytest.raises(ArchError, match=r"needs 25088 input features \(a 512×7×7 map\)"):
        count(api.load("vgg-e"), input=(3, 256, 256))


@pytest.mark.parametrize("name", SPECS)
def test_every_spec_rolls_up(name):
    c = count(api.load(name), convention="full")
    for level in ("block", "stage"):
        assert sum(r.cost for r in c.by(level)) == c.total.cost
        assert sum(r.params for r in c.by(level)) == c.total.params
        assert round(sum(c.percent(level)), 6) == 100.0


def _cli(*args, timeout=60):
    code = ("import sys; from archdsl.cli.main import main; "
            f"s = main({['report', *args]!r}); "
            "print('TORCH', 'torch' in sys.modules, file=sys.stderr); sys.exit(s)")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_report_is_torch_free():
    r = _cli("resnet152", "--by", "layer", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "TORCH False" in r.stderr
    assert json.loads(r.stdout)["total"]["params"] == 60_192_808


def test_sweep_reproduces_the_cifar_table():
    r = _cli("resnet-cifar", "--sweep", "n=3,5,7,9,18,200", "--format", "csv", "--convention",
             "paper", timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line.split(",") for line in r.stdout.splitlines()[1:]]
    assert [int(row[3]) for row in rows] == [CIFAR[n][0] for n in (3, 5, 7, 9, 18, 200)]
    assert [int(row[2]) for row in rows] == [20, 32, 44, 56, 110, 1202]
