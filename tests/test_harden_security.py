"""Writes stay where they belong and generated code runs nothing (issue 16, security).

Each case runs ``archdsl build`` in a fresh interpreter inside an empty working folder and
then, if the build succeeded, imports the generated ``model.py`` in another fresh
interpreter. Afterwards the folder tree holds exactly the inputs plus the output directory's
three files: nothing was written elsewhere (no ``PWNED``, no ``model.py`` beside the spec,
nothing outside the folder), and the hostile pieces were either refused or quoted.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import archdsl
from archdsl.errors import ArchError
from archdsl.ir.yamlio import graph_to_yaml

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = {"model.py", "ir.yaml", "report.json"}
HOSTILE = 'x""" + __import__("os").system("touch PWNED") + """'
SMALL = "input 3×8×8\nclasses 4\nconv1 8×8: 3×3, 8\nhead: average pool, fc-4\n"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _archdsl(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "archdsl", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _imports_cleanly(out: Path) -> None:
    """model.py imports and builds in a fresh interpreter (cwd: its folder), running nothing."""
    code = "import sys; sys.path.insert(0, '.'); import model; model.build()"
    r = subprocess.run([sys.executable, "-I", "-c", code], cwd=out, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def _ir(tmp_path: Path, **fields) -> Path:
    """An ir.yaml of a small valid network with ``fields`` replaced."""
    doc = yaml.safe_load(graph_to_yaml(archdsl.load("network small\n" + SMALL)))
    doc.update(fields)
    path = tmp_path / "ir.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


# (label, spec file name, its text) built without -o: refused, or written under build/<name>
SPEC_CASES = [
    ("file stem '..'", "...arch", SMALL),
    ("file stem with a slash-free traversal", "..x.arch", SMALL),
    ("hostile file name, named network", f"{HOSTILE}.arch", "network ok\n" + SMALL),
    ("hostile file name as the network name", f"{HOSTILE}.arch", SMALL),
    ("reserved stage name", "r.arch", SMALL.replace("conv1 8×8", "forward 8×8")),
    ("dunder stage name", "r.arch", SMALL.replace("conv1 8×8", "__init__ 8×8")),
]


@pytest.mark.parametrize("label,name,text", SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_hostile_specs_write_only_under_build(label, name, text, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / name).write_text(text, encoding="utf-8")
    r = _archdsl(work, "build", name)
    assert "Traceback" not in r.stderr, r.stderr
    after = _files(tmp_path)
    if r.returncode != 0:
        assert r.returncode == 2 and "error:" in r.stderr
        assert after == {f"work/{name}"}, after   # refused: nothing written at all
        return
    outs = {p.parent for p in (tmp_path / "work" / "build").rglob("model.py")}
    assert len(outs) == 1
    out = outs.pop()
    assert out.parent == work / "build"
    assert after == {f"work/{name}"} | {str((out / f).relative_to(tmp_path)) for f in OUTPUTS}
    _imports_cleanly(out)
    assert _files(tmp_path) - after <= {str((out / "__pycache__").relative_to(tmp_path)) + "/"
                                        + p.name for p in (out / "__pycache__").glob("*")}
    assert not list(tmp_path.rglob("PWNED"))


def test_the_dotdot_stem_is_refused_with_the_rule(tmp_path):
    (tmp_path / "...arch").write_text(SMALL, encoding="utf-8")
    with pytest.raises(ArchError, match=r"named after its file.*'\.\.' is not a network name"):
        archdsl.load(str(tmp_path / "...arch"))


@pytest.mark.parametrize("name", ["../../x", "/abs/path", "..", "a/b", HOSTILE, "x" * 300, 7])
def test_ir_network_names_are_validated(name, tmp_path):
    path = _ir(tmp_path, name=name)
    with pytest.raises(ArchError, match="IR field 'name'"):
        archdsl.load(str(path))
    r = _archdsl(tmp_path, "build", "ir.yaml")   # no -o: build/<name> would escape
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert _files(tmp_path) == {"ir.yaml"}


def test_an_ir_file_builds_under_build_and_imports(tmp_path):
    _ir(tmp_path, name="fine", file=HOSTILE + ".arch", source=HOSTILE)
    r = _archdsl(tmp_path, "build", "ir.yaml")
    assert r.returncode == 0, r.stderr
    assert _files(tmp_path) == {"ir.yaml"} | {f"build/fine/{f}" for f in OUTPUTS}
    _imports_cleanly(tmp_path / "build" / "fine")
    assert not list(tmp_path.rglob("PWNED"))


@pytest.mark.parametrize("stage", ["forward", "training", "state_dict", "__init__", "class"])
def test_ir_stage_names_are_validated(stage, tmp_path):
    doc = yaml.safe_load(graph_to_yaml(archdsl.load("network small\n" + SMALL)))
    doc["stages"][0]["name"] = stage
    for node in doc["nodes"]:
        if node["stage"] == "conv1":
            node["stage"] = stage
    (tmp_path / "ir.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ArchError, match="stage name"):
        archdsl.load(str(tmp_path / "ir.yaml"))


def test_output_path_is_checked_to_stay_under_build(tmp_path, monkeypatch):
    """Defence in depth: a graph made in Python with a hostile name (the loaders refuse one)
    still cannot make ``build`` write outside ``build/``."""
    from archdsl.cli import build_cmd

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArchError, match="outside build/"):
        build_cmd._default_out("..")
    assert build_cmd._default_out("resnet50") == Path("build") / "resnet50"
