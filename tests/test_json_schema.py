"""docs/json.md documents one schema per command; every command's real -f json output has
exactly the documented fields (lists compared by their first item)."""
from __future__ import annotations

import json
import re

import pytest

from archdsl.cli.main import main
from conftest import ROOT


def _doc() -> dict[str, dict]:
    text = (ROOT / "docs" / "json.md").read_text()
    out = {}
    for head, body in re.findall(r"^## archdsl (.+?)\n(.*?)(?=^## |\Z)", text, re.S | re.M):
        block = re.search(r"```json\n(.*?)```", body, re.S).group(1)
        block = block.replace("[ROW]", "[{}]")      # rows are spelled out once, as `total`
        out[head.strip()] = json.loads(block)
    return out


def skeleton(v, key=""):
    """The shape of a JSON value: dict keys (recursively), a list's first item, leaf type
    ignored (numbers vary). An op's ``attrs`` vary by op: only its being an object counts."""
    if isinstance(v, dict):
        return "object" if key == "attrs" else {k: skeleton(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [skeleton(v[0], key)] if v and isinstance(v[0], (dict, list)) else "list"
    return "value"


def _run(capsys, *argv):
    status = main(list(argv))
    out = capsys.readouterr().out
    assert status == 0, out
    return json.loads(out)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "testnet:resnet", "-D", "n=1", "--data", "synthetic:3x8x8:64",
                 "--steps", "1", "--batch", "8", "--quiet", "-o", str(out / "r")]) == 0
    return str(out / "r" / "checkpoint.pt")


COMMANDS = {
    "check": ["check", "resnet20", "-f", "json"],
    "list": ["list", "resnet5*", "-f", "json"],
    "show": ["show", "resnet20", "-f", "json"],
    "report": ["report", "resnet20", "-f", "json", "--by", "layer"],
    "report --sweep": ["report", "resnet20", "--sweep", "n=3,5", "-f", "json"],
    "table": ["table", "resnet20", "-f", "json"],
    "bench": ["bench", "resnet20", "--batch", "2", "--iters", "1", "--warmup", "1",
              "--device", "cpu", "-f", "json"],
}


def test_every_documented_command_is_tested():
    assert set(_doc()) == set(COMMANDS) | {"eval"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_output_has_the_documented_fields(command, capsys):
    doc = _doc()[command]
    got = _run(capsys, *COMMANDS[command])
    if command == "report":       # ROW is documented once, as `total`
        doc = {**doc, **{k: [doc["total"]] for k in ("stages", "blocks", "layers")}}
    assert skeleton(got) == skeleton(doc)


def test_eval_has_the_documented_fields(ckpt, capsys):
    got = _run(capsys, "eval", "--checkpoint", ckpt, "--data", "synthetic:3x8x8:64", "-f", "json")
    assert skeleton(got) == skeleton(_doc()["eval"])


def test_flops_always_names_its_convention(capsys):
    """Wherever a `flops` field appears, a `convention` is named at the top of the document."""
    def has_flops(v):
        if isinstance(v, dict):
            return "flops" in v or any(has_flops(x) for x in v.values())
        return isinstance(v, list) and any(has_flops(x) for x in v)
    for command, argv in COMMANDS.items():
        got = _run(capsys, *argv)
        if has_flops(got):
            assert got["convention"] in ("paper", "fvcore", "full"), command
