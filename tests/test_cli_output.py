"""Readable output (issue 14): --version, -f json on check/list/show with the documented
fields, show's header and params column, report JSON's flops in its convention, --sweep
rows named by member and over list parameters, table fitted to a width with its FLOPs
convention labelled, quiet broken pipes and Ctrl-C, one-line errors for a missing CUDA
and a missing scikit-learn."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib

import pytest

import archdsl
from archdsl.cli.main import main
from conftest import ROOT

PY = [sys.executable, "-m", "archdsl"]


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"archdsl {archdsl.__version__}"


def test_list_takes_a_pattern_and_json(capsys):
    status, out, _ = run(["list", "vgg1?-bn"], capsys)
    assert status == 0 and [l.split()[0] for l in out.splitlines()] == [
        "vgg11-bn", "vgg13-bn", "vgg16-bn", "vgg19-bn"]
    status, out, _ = run(["list", "resnet5*", "-f", "json"], capsys)
    specs = json.loads(out)["specs"]
    assert [s["name"] for s in specs] == ["resnet50", "resnet50-v1.5", "resnet56"]
    assert [s["family_member"] for s in specs] == [False, False, True]
    assert specs[2]["file"].endswith("resnet-cifar.arch")
    status, _, err = run(["list", "nothing*"], capsys)
    assert status == 1 and "no bundled network matches" in err


def test_check_json(capsys):
    status, out, err = run(["check", "resnet50", "nope", "-f", "json"], capsys)
    rows = json.loads(out)["specs"]
    assert status == 2 and "no spec or family member named 'nope'" in err
    assert rows[0] | {"ms": 0} == {"spec": "resnet50", "ok": True, "network": "resnet50",
                                   "input_shape": [3, 224, 224], "output_shape": [1000],
                                   "num_classes": 1000, "depth": 50, "params": 25_557_032,
                                   "nodes": len(archdsl.load("resnet50").nodes), "ms": 0}
    assert rows[1]["ok"] is False and "nope" in rows[1]["error"]


def test_show_has_a_header_and_a_params_column(capsys):
    status, out, _ = run(["show", "resnet20"], capsys)
    lines = out.splitlines()
    assert status == 0 and "params 269,722" in lines[0]
    assert lines[1].split()[:4] == ["node", "op", "output", "params"]
    conv = next(l for l in lines if l.split()[:1] == ["conv2.0.conv1"])
    assert conv.split()[3] == "2,304"              # 3×3×16×16
    status, out, _ = run(["show", "resnet20", "-f", "json"], capsys)
    d = json.loads(out)
    assert d["params"] == 269_722 == sum(n["params"] for n in d["layers"])
    assert d["layers"][0]["name"] == "conv1.conv" and d["layers"][0]["attrs"]["kernel"] == [3, 3]


def test_report_json_flops_is_the_named_conventions(capsys):
    g = archdsl.load("resnet50")
    for conv in ("paper", "fvcore", "full"):
        status, out, _ = run(["report", "resnet50", "-f", "json", "--convention", conv], capsys)
        d = json.loads(out)
        c = archdsl.count(g, convention=conv)
        assert d["convention"] == conv and d["total"]["flops"] == c.total.cost
        assert d["total"]["macs"] == c.total.macs and "cost" not in d["total"]
    # fvcore's figure is not the 2×MACs the field used to carry under every convention
    assert archdsl.count(g, convention="fvcore").total.cost != 2 * g_macs(g)


def g_macs(g):
    return archdsl.count(g, convention="paper").total.macs


def test_build_report_json_names_its_convention(tmp_path, capsys):
    assert main(["build", "resnet20", "-o", str(tmp_path)]) == 0
    d = json.loads((tmp_path / "report.json").read_text())
    fv = archdsl.count(archdsl.load("resnet20"), convention="fvcore")
    assert d["convention"] == "fvcore" and d["flops"] == fv.total.cost
    assert d["macs"] == fv.total.macs and d["counts"]["total"]["flops"] == fv.total.cost


def test_sweep_rows_are_named_by_member(capsys):
    status, out, _ = run(["report", "resnet20", "--sweep", "n=3,5,9", "-f", "json"], capsys)
    members = json.loads(out)["members"]
    assert status == 0 and [m["network"] for m in members] == ["resnet20", "resnet32", "resnet56"]
    assert [m["depth"] for m in members] == [20, 32, 56]


def test_sweep_over_a_list_parameter(capsys):
    status, out, _ = run(["report", "resnet50", "--sweep", "depths=3,4,6,3/3,4,23,3",
                          "-f", "json", "--convention", "paper"], capsys)
    members = json.loads(out)["members"]
    assert status == 0 and [m["value"] for m in members] == [[3, 4, 6, 3], [3, 4, 23, 3]]
    assert [m["network"] for m in members] == ["resnet50", "resnet101"]
    assert [m["params"] for m in members] == [25_557_032, 44_549_160]
    status, out, _ = run(["report", "resnet50", "--sweep", "depths=3,8,36,3", "-f", "csv"], capsys)
    assert status == 0 and out.splitlines()[1].startswith('"3,8,36,3",resnet152,152,60192808,')


def test_table_fits_a_width_and_labels_its_flops(capsys):
    nets = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    status, whole, _ = run(["table", *nets, "--width", "0"], capsys)
    assert max(map(len, whole.splitlines())) > 200           # was 317 columns wide
    status, out, _ = run(["table", *nets, "--width", "120"], capsys)
    assert status == 0 and max(map(len, out.splitlines())) <= 120
    assert all(n in out for n in nets) and out.count("layer name") > 1
    flops = next(l for l in out.splitlines() if l.startswith("FLOPs"))
    assert "multiply-adds" in flops
    back = archdsl.parse_table(whole)                        # the labelled table reads back
    assert [g.name for g in back] == nets


def _closed_pipe(*args):
    r, w = os.pipe()
    os.close(r)                     # the reader has gone (`archdsl list | head -0`)
    try:
        return subprocess.run([*PY, *args], stdout=w, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(w)


@pytest.mark.parametrize("args", [("list",), ("show", "resnet20")])
def test_broken_pipe_is_quiet(args):
    p = _closed_pipe(*args)
    assert p.returncode == 141 and p.stderr == ""


def test_ctrl_c_is_quiet(tmp_path):
    p = subprocess.Popen([*PY, "train", "testnet:resnet", "-D", "n=1", "--data", "synthetic",
                          "--steps", "100000", "--set", "log_every=1", "-o", str(tmp_path / "r")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        p.stdout.readline()         # the first progress line: training is under way
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130 and "Traceback" not in err, err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_one_line(capsys):
    status, _, err = run(["bench", "resnet20", "--device", "cuda", "--iters", "1"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "CUDA is not available" in err and "--device cpu" in err


def test_missing_scikit_learn_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)      # import sklearn now fails
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    status, _, err = run(["train", "testnet:resnet", "-D", "n=1", "-o", str(tmp_path / "r"),
                          "--recipe", "smoke"], capsys)
    assert status == 2 and err.strip().splitlines() == [
        "error: --data digits needs scikit-learn: pip install 'archdsl[train]' "
        "(or pip install scikit-learn)"]


def test_the_readme_install_has_what_the_default_dataset_needs():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "pip install -e '.[test]'" in (ROOT / "README.md").read_text()
    assert any(r.startswith("archdsl[") and "train" in r for r in extras["test"])
    assert any(r.startswith("scikit-learn") for r in extras["train"])
    assert any(r.startswith("Pillow") for r in extras["train"])
