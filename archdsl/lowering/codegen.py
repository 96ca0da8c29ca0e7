"""IR -> standalone, readable PyTorch source (no archdsl import at run time).

The generated module defines one class named after the network, plus ``build()`` /
``create_model()``. Its ``state_dict`` keys equal :func:`archdsl.lowering.create_model`'s
and, given the same weights, its outputs are identical: both build the same torch layers in
the same order (both read :data:`.torch_ops.TORCH_OPS`). Residual
blocks become small classes with an explicit ``forward``, one per distinct block layout.
"""
from __future__ import annotations

import re

from archdsl.ir.graph import Graph, Node, dims_text
from archdsl.lowering.torch_ops import Context, layer_source
from archdsl.lowering.plan import Block, Plan, plan

_PRELUDE = '''
def he(layer, bias=0.0):
    """He et al. init: Kaiming normal (fan_out, ReLU gain); bias constant."""
    nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


def normal(layer, std, bias=0.0):
    """Weights from N(0, std²), bias constant (AlexNet, VGG)."""
    nn.init.normal_(layer.weight, 0.0, std)
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


def constant_bias(layer, bias):
    """torch's default weight init, constant bias."""
    nn.init.constant_(layer.bias, bias)
    return layer


class Stage(nn.Sequential):
    """A stage of the paper's table: named layers and residual blocks ("0", "1", ...) in order.
    stage[j] is block j, even when a layer such as a max pool precedes the blocks."""

    def __init__(self, layers):
        super().__init__(OrderedDict(layers))

    def __getitem__(self, idx):
        if isinstance(idx, int) and str(idx) in self._modules:
            return self._modules[str(idx)]
        return super().__getitem__(idx)

    def run(self, x, start: int, stop: int):
        for layer in list(self._modules.values())[start:stop]:
            x = layer(x)
        return x
'''

_PAD = '''

class PadShortcut(nn.Module):
    """Option A shortcut: subsample by the stride, zero-pad the channels; no parameters."""

    def __init__(self, stride: int, pad_before: int, pad_after: int):
        super().__init__()
        self.stride, self.pad_before, self.pad_after = stride, pad_before, pad_after

    def forward(self, x):
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))
'''



def class_name(name: str) -> str:
    """A Python class name for a network name (``vgg16-bn`` -> ``Vgg16Bn``)."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Network"
    return out if out[0].isalpha() else "Net" + out


def _layout(b: Block) -> tuple:
    """What decides a block class's code: main layer names, addition, in-place add, post."""
    return (tuple(n.local_name for n in b.main), b.add is not None, b.add_inplace,
            tuple(n.local_name for n in b.post))


def _block_classes(p: Plan) -> dict[tuple, str]:
    names: dict[tuple, str] = {}
    for st in p.stages:
        for item in st.items:
            if isinstance(item, Block) and _layout(item) not in names:
                convs = sum(1 for n in item.main if n.op == "conv")
                base = ("PlainBlock" if item.add is None else
                        {2: "BasicBlock", 3: "Bottleneck"}.get(convs, f"Block{convs}"))
                taken = set(names.values())
                cand, k = base, 2
                while cand in taken:
                    cand, k = f"{base}{k}", k + 1
                names[_layout(item)] = cand
    return names


def _block_class(name: str, layout: tuple) -> str:
    main, has_add, inplace, post = layout
    params = ", ".join([*main, *post] + (["shortcut=None"] if has_add else []))
    chain = " → ".join(main)
    doc = (f"Residual block: {chain};\n    the shortcut (identity when None), "
           f"add{''.join(' → ' + p for p in post)}.\n    " if has_add else f"Plain block: {chain}.")
    lines = [f"\n\nclass {name}(nn.Module):", f'    """{doc}"""', "",
             f"    def __init__(self, {params}):", "        super().__init__()"]
    lines += [f"        self.{m} = {m}" for m in main]
    if has_add:
        lines.append("        self.shortcut = shortcut")
    lines += [f"        self.{m} = {m}" for m in post]
    lines += ["", "    def forward(self, x):"]
    src = "x"
    for m in main:
        lines.append(f"        out = self.{m}({src})")
        src = "out"
    if has_add:
        lines.append("        identity = x if self.shortcut is None else self.shortcut(x)")
        lines.append("        out += identity" if inplace else "        out = out + identity")
        lines += [f"        out = self.{m}(out)" for m in post]
    lines.append("        return out")
    return "\n".join(lines)


def _line(key: str, node: Node, p: Plan, indent: str) -> str:
    """``key=Constructor(...),  # shape; note`` (a keyword argument of a block class)."""
    expr, note = layer_source(node, Context(p.inplace))
    return f"{indent}{key}={expr},  # {dims_text(node.shape)}" + (f"; {note}" if note else "")


def _block_source(b: Block, cls: str, p: Plan, indent: str) -> list[str]:
    inner = indent + "    "
    out = [f'{indent}"{b.local}": {cls}(  # {b.name} → {dims_text(b.nodes[-1].shape)}']
    out += [_line(n.local_name, n, p, inner) for n in b.main]
    if len(b.shortcut) == 1 and b.shortcut[0].local_name == "shortcut":
        out.append(_line("shortcut", b.shortcut[0], p, inner))
    elif b.shortcut:
        out.append(f"{inner}shortcut=nn.Sequential(OrderedDict(")
        out += [_line(n.local_name.split(".", 1)[1], n, p, inner + "    ") for n in b.shortcut]
        out.append(f"{inner})),")
    out += [_line(n.local_name, n, p, inner) for n in b.post]
    out.append(f"{indent}),")
    return out


def _counts_line(graph: Graph) -> str:
    from archdsl.analysis.count import count  # torch-free, analytic
    c = count(graph, convention="paper")
    return (f"{c.total.params:,} parameters; {c.total.macs:,} multiply-adds (conv+fc) "
            f"per {dims_text(graph.input_shape)} image")


def generate_source(graph: Graph) -> str:
    """Readable, standalone PyTorch source for ``graph`` (see the module docstring)."""
    p = plan(graph)
    cls = class_name(graph.name)
    blocks = _block_classes(p)
    settings = ", ".join(f"{k}={v}" for k, v in graph.settings) or "none"
    params = ", ".join(f"{k}={v}" for k, v in graph.params) or "none"
    head = [f'"""{graph.name}: PyTorch model generated by archdsl from {graph.file}.', "",
            f"Input {dims_text(graph.input_shape)} → {graph.num_classes} classes; depth {graph.depth};",
            _counts_line(graph) + ".",
            f"Parameters: {params}. Settings: {settings}.",
            "Standalone (needs only torch). forward() returns logits: the spec's soft-max is",
            "the loss's job. Module names follow the spec's stages and blocks (conv2_x.0.conv1).",
            '"""', "from collections import OrderedDict", "", "import torch",
            "import torch.nn.functional as F", "from torch import nn", ""]
    body = [_PRELUDE.rstrip("\n")]
    if any(n.op == "pad_shortcut" for n in graph.nodes):
        body.append(_PAD.rstrip("\n"))
    body += [_block_class(name, layout) for layout, name in blocks.items()]
    init = [f"\n\nclass {cls}(nn.Module):",
            f'    """{graph.name}: {dims_text(graph.input_shape)} → {graph.num_classes} logits."""', "",
            "    def __init__(self):", "        super().__init__()"]
    for sp in p.stages:
        nb = sum(isinstance(i, Block) for i in sp.items)
        last = sp.items[-1]
        shape = (last.nodes[-1] if isinstance(last, Block) else last).shape
        init.append(f"        # {sp.name}" + (f": {nb} block{'s' * (nb > 1)}" if nb else "")
                    + f" → {dims_text(shape)}")
        init.append(f"        self.{sp.name} = Stage({{")
        for item in sp.items:
            if isinstance(item, Block):
                init += _block_source(item, blocks[_layout(item)], p, " " * 12)
            else:
                expr, note = layer_source(item, Context(p.inplace))
                init.append(f'            "{item.local_name}": {expr},  # {dims_text(item.shape)}'
                            + (f"; {note}" if note else ""))
        init.append("        })")
    return "\n".join(head + body + init + _forwards(p, cls)) + "\n"


def _forwards(p: Plan, cls: str) -> list[str]:
    names = [sp.name for sp in p.stages]
    si, ii = p.split
    out = ["", "    def forward(self, x):", '        """Logits for a batch of images."""']
    for sp in p.stages:
        last = sp.items[-1]
        shape = (last.nodes[-1] if isinstance(last, Block) else last).shape
        out.append(f"        x = self.{sp.name}(x)  # {dims_text(shape)}")
    out += ["        return x", "", "    def forward_features(self, x):",
            '        """The network up to the head (global pool / flatten / fc): the last feature map."""']
    out += [f"        x = self.{n}(x)" for n in names[:si]]
    if si < len(names) and ii:
        out.append(f"        x = self.{names[si]}.run(x, 0, {ii})")
    out += ["        return x", "", "    def forward_stages(self, x):",
            '        """Every stage\'s output, by stage name."""', "        out = {}"]
    for n in names:
        out += [f"        x = self.{n}(x)", f'        out["{n}"] = x']
    out += ["        return out", "", "", f"def build() -> {cls}:",
            f'    """A freshly initialised {cls}."""', f"    return {cls}()", "", "",
            "create_model = build"]
    return out
