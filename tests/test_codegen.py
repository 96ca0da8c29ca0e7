"""Codegen on hand-built graphs: same state_dict keys and outputs as create_model, standalone,
readable, scriptable. ``isolated_outputs`` is shared with tests/test_codegen_specs.py."""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from archdsl.lowering.codegen import class_name, generate_source
from archdsl.lowering.lower import lower
from test_count_nets import tiny_alexnet, tiny_resnet, tiny_vgg

TINY = [tiny_resnet, tiny_alexnet, tiny_vgg]

# Runs in a fresh `python -I` (no PYTHONPATH, no cwd on sys.path) with archdsl blocked.
_CHILD = """
import sys
sys.modules["archdsl"] = None          # any `import archdsl` now raises ImportError
sys.path.insert(0, sys.argv[1])
import torch, model
try:
    import archdsl
    sys.exit("archdsl is importable")
except ImportError:
    pass
net = model.build().eval()
net.load_state_dict(torch.load(sys.argv[1] + "/weights.pt"))
x = torch.load(sys.argv[1] + "/x.pt")
with torch.no_grad():
    torch.save({"out": net(x), "keys": list(net.state_dict())}, sys.argv[1] + "/out.pt")
"""


def import_source(source: str, path: Path):
    """Import generated source from ``path`` in this process."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def isolated_outputs(graph, model, x: torch.Tensor, tmp: Path) -> dict:
    """Write model.py for ``graph`` and ``model``'s weights to ``tmp``; run the generated
    model in a subprocess where archdsl cannot be imported; return its outputs and keys."""
    (tmp / "model.py").write_text(generate_source(graph))
    torch.save(model.state_dict(), tmp / "weights.pt")
    torch.save(x, tmp / "x.pt")
    r = subprocess.run([sys.executable, "-I", "-c", _CHILD, str(tmp)], cwd="/",
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(tmp / "out.pt")


@pytest.mark.parametrize("make", TINY)
def test_same_keys_and_outputs_in_process(make, tmp_path):
    g = make()
    ours = lower(g).eval()
    gen = import_source(generate_source(g), tmp_path / "gen.py").build().eval()
    assert list(gen.state_dict()) == list(ours.state_dict())
    gen.load_state_dict(ours.state_dict())
    x = torch.randn(2, *g.input_shape)
    with torch.no_grad():
        assert torch.equal(gen(x), ours(x))
        assert torch.equal(gen.forward_features(x), ours.forward_features(x))
        assert list(gen.forward_stages(x)) == list(ours.forward_stages(x))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("make", TINY)
def test_generated_model_is_scriptable(make, tmp_path):
    g = make()
    gen = import_source(generate_source(g), tmp_path / "gen.py").build().eval()
    scripted = torch.jit.script(gen)
    x = torch.randn(1, *g.input_shape)
    assert torch.equal(scripted(x), gen(x))


def test_isolated_subprocess(tmp_path):
    g = tiny_resnet()
    ours = lower(g).eval()
    x = torch.randn(2, *g.input_shape)
    got = isolated_outputs(g, ours, x, tmp_path)
    assert got["keys"] == list(ours.state_dict())
    with torch.no_grad():
        assert torch.equal(got["out"], ours(x))


def test_source_is_readable():
    g = tiny_resnet()
    src = generate_source(g)
    tree = ast.parse(src)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes[-1] == "TinyResnet" and {"BasicBlock", "Bottleneck", "PadShortcut"} <= set(classes)
    funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"build", "he"} <= funcs
    assert "archdsl" not in src.split('"""', 2)[2]  # no import of archdsl after the docstring
    assert "eval(" not in src and "exec(" not in src
    assert "1,558 parameters" in src and "# conv2_x: 1 block → 8×5×5" in src
    assert "self.conv1 = he(nn.Conv2d(4, 8, kernel_size=3, stride=2, padding=1, bias=False))" in src
    assert "        out += identity\n" in src  # in place after a bn, as torchvision writes it
    assert "('fc', nn.Linear(16, num_classes)),  # 10" in src
    assert "nn.LocalResponseNorm(5, alpha=0.0005, beta=0.75, k=2.0)" in generate_source(tiny_alexnet())
    assert max(len(line) for line in src.splitlines()) < 130


def test_num_classes_is_an_argument(tmp_path):
    g = tiny_resnet()
    mod = import_source(generate_source(g), tmp_path / "gen.py")
    assert mod.build().head.fc.out_features == 10
    net = mod.create_model(num_classes=7).eval()
    assert net.head.fc.out_features == 7
    assert tuple(net(torch.randn(2, *g.input_shape)).shape) == (2, 7)
    assert list(net.state_dict()) == list(lower(g).state_dict())


@pytest.mark.parametrize("make", TINY)
def test_same_seed_same_init(make, tmp_path):
    """Modules are built in IR order, so a seed gives create_model's weights."""
    g = make()
    mod = import_source(generate_source(g), tmp_path / "gen.py")
    torch.manual_seed(0)
    ours = lower(g).state_dict()
    torch.manual_seed(0)
    gen = mod.build().state_dict()
    assert all(torch.equal(ours[k], gen[k]) for k in ours)


@pytest.mark.parametrize("name, cls", [("resnet50", "Resnet50"), ("vgg16-bn", "Vgg16Bn"),
                                       ("resnet-cifar-n3", "ResnetCifarN3"), ("3net", "Net3net")])
def test_class_names(name, cls):
    assert class_name(name) == cls
