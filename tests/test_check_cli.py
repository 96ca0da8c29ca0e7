"""``archdsl check specs/*.arch``: torch-free, one line per spec."""
import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SPECS as SPEC_PATHS

SPECS = [str(p.relative_to(ROOT)) for p in SPEC_PATHS]

CODE = r"""
import contextlib, io, json, sys
from archdsl.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = main(["check", *sys.argv[1:]])
print(json.dumps({"rc": rc, "stdout": out.getvalue(), "torch": "torch" in sys.modules}))
"""


def run(*argv):
    r = subprocess.run([sys.executable, "-c", CODE, *argv], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def test_check_all_specs_torch_free():
    res, err = run(*SPECS)
    assert res["rc"] == 0, err
    assert res["torch"] is False
    lines = res["stdout"].splitlines()
    assert len(lines) == len(SPECS) >= 25
    for line, spec in zip(lines, SPECS):
        assert line.startswith("ok  ")
        assert " layers " in line and "→" in line


def test_check_lines_name_each_network():
    res, _ = run("specs/resnet50.arch", "resnet56", "specs/vgg-e.arch")
    names = [line.split()[1] for line in res["stdout"].splitlines()]
    assert names == ["resnet50", "resnet56", "vgg-e"]
    depths = [int(line.split()[2]) for line in res["stdout"].splitlines()]
    assert depths == [50, 56, 19]


def test_check_with_define():
    res, _ = run("specs/resnet-cifar.arch", "-D", "n=18")
    assert res["rc"] == 0 and not res["torch"]
    assert res["stdout"].split()[2] == "110"


def test_check_console_script_exit_status():
    exe = Path(sys.executable).with_name("archdsl")
    r = subprocess.run([str(exe), "check", *SPECS[:3]], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3
    r = subprocess.run([str(exe), "check", "tests/bad_specs/typo_conv.arch"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
