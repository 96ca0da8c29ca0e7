"""IR -> standalone, idiomatic PyTorch source (no archdsl import at run time).

The generated module defines one class per block template (``Bottleneck``), whose varying
attributes are its ``__init__`` arguments (:mod:`.codegen_blocks`), one class named after
the network taking ``num_classes``, and ``build()`` / ``create_model()``. Stages list their
layers and build runs of identical blocks in a loop, like torchvision's ``_make_layer``.
Every constructor comes from the torch op table (:data:`.torch_ops.TORCH_OPS`), ops with an
``inline`` expression are written out in ``forward``, and ``forward`` follows node inputs
with one variable per live value. Its ``state_dict`` keys equal
:func:`archdsl.lowering.create_model`'s, its modules are built in IR order (the same seed
gives the same init) and, given the same weights, its outputs are identical.

Every user-derived value written into the source is a ``repr()`` literal, a validated
identifier or a derived class name, and docstrings are escaped: a hostile spec or IR file
cannot make ``model.py`` run anything when imported.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import PurePath

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph, Node, dims_text
from archdsl.lowering import layers
from archdsl.lowering.codegen_blocks import (MARK, BlockClass, Instance, block_classes,
                                             check_ident, class_name, group_of, stage_items)
from archdsl.lowering.torch_ops import TORCH_OPS, Context, layer_source

__all__ = ["generate_source", "class_name"]

# Ops after which the network no longer holds a spatial feature map: the head starts here.
HEAD_OPS = frozenset({"gap", "adaptive_avgpool", "flatten", "fc"})
# Ops whose backward does not need their own output and which return a fresh tensor, so an
# in-place ReLU may overwrite it, as torchvision does; a residual add writes in place into
# a conv/bn output (torchvision's ``out += identity``).
_OUTPUT_FREE = frozenset({"conv", "bn", "fc", "add", "maxpool", "avgpool", "lrn", "gap",
                          "adaptive_avgpool", "pad_shortcut"})
_ADD_INTO = frozenset({"conv", "bn"})

_HELPERS = {
    "he": '''def he(layer, bias=0.0):
    """He et al. init: Kaiming normal (fan_out, ReLU gain); bias constant."""
    nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer''',
    "normal": '''def normal(layer, std, bias=0.0):
    """Weights from N(0, std²), bias constant (AlexNet, VGG)."""
    nn.init.normal_(layer.weight, 0.0, std)
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer''',
    "constant_bias": '''def constant_bias(layer, bias):
    """torch's default weight init, constant bias."""
    nn.init.constant_(layer.bias, bias)
    return layer''',
}

_STAGE = '''class Stage(nn.Sequential):
    """A stage of the paper's table: layers given as (name, layer) and blocks, numbered
    "0", "1", ... in order; stage[j] is block j even after a leading pool."""

    def __init__(self, *items):
        super().__init__()
        blocks = 0
        for item in items:
            if isinstance(item, tuple):
                self.add_module(*item)
            else:
                self.add_module(str(blocks), item)
                blocks += 1

    def __getitem__(self, idx):
        if isinstance(idx, int) and str(idx) in self._modules:
            return self._modules[str(idx)]
        return super().__getitem__(idx)'''

_RUN = '''

    def run(self, x, start: int, stop: int):
        """Apply children start .. stop - 1 only (where the head begins)."""
        for layer in list(self._modules.values())[start:stop]:
            x = layer(x)
        return x'''


def _doc(text: str) -> str:
    """``text`` made safe inside a triple-quoted docstring: nothing in it can end it."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _comment(text: str) -> str:
    """``text`` on one comment line (no line break can end the comment early)."""
    return " ".join(text.splitlines())


def _inplace(graph: Graph) -> frozenset[str]:
    """Nodes that may overwrite their first input: ReLUs (and residual adds into a conv/bn
    output) that are the sole reader of a fresh, output-free producer."""
    uses: dict[str, int] = {}
    ops = {n.name: n.op for n in graph.nodes}
    for n in graph.nodes:
        for i in n.inputs:
            uses[i] = uses.get(i, 0) + 1
    return frozenset(
        n.name for n in graph.nodes
        if uses.get(n.inputs[0]) == 1 and (
            (n.op == "relu" and ops.get(n.inputs[0]) in _OUTPUT_FREE)
            or (TORCH_OPS[n.op].inline is not None and ops.get(n.inputs[0]) in _ADD_INTO)))


class _Forward:
    """Writes a forward body: one variable per live value, a value's variable taken over by
    the layer that reads it last (``out = self.bn1(out)``)."""

    AVOID = {"self", "torch", "nn", "F", "math", "OrderedDict"}

    def __init__(self, inputs: dict[str, str], last_use: dict[str, int], keep: set[str]):
        self.var = dict(inputs)
        self.last_use, self.keep = last_use, keep   # keep: values never overwritten
        self.lines: list[str] = []

    def emit(self, k: int, value: str, ins: tuple[str, ...], expr, hint: str = "out",
             augment: bool = False, comment: str = "") -> str:
        args = [self.var[i] for i in ins]
        text = expr(args)
        first = ins[0] if ins else None
        # a one-input step takes over its input's variable; a merge (add, concat) is "out"
        if len(ins) == 1 and self.last_use.get(first) == k and first not in self.keep:
            target = args[0]
        else:
            live = {self.var[v] for v in self.var if self.last_use.get(v, -1) > k or v in self.keep}
            target, n = hint, 2
            while target in live | self.AVOID:
                target, n = f"{hint}{n}", n + 1
        if augment and args and target == args[0] and text.startswith(f"{target} + "):
            line = f"{target} += {text[len(target) + 3:]}"
        else:
            line = f"{target} = {text}"
        self.lines.append(line + (f"  # {comment}" if comment else ""))
        self.var[value] = target
        return target


def _last_uses(units: list[tuple[str, tuple[str, ...]]]) -> dict[str, int]:
    last: dict[str, int] = {}
    for k, (_, ins) in enumerate(units):
        for i in ins:
            last[i] = k
    return last


def _chains(rep: Instance) -> list[tuple[str, list[Node]]]:
    """The layer groups of a block in IR order; a dotted group must be a chain."""
    groups: dict[str, list[Node]] = {}
    for n in rep.nodes:
        groups.setdefault(group_of(n.local_name), []).append(n)
    for g, members in groups.items():
        check_ident(g, "layer", members[0])
        if len(members) == 1 and "." not in members[0].local_name:
            continue
        for prev, n in zip(members, members[1:]):
            if n.inputs != (prev.name,) or TORCH_OPS[n.op].inline is not None:
                raise ArchError(f"{n.name}: the layers of group {g!r} must form a chain of "
                                "modules for model.py", n.span)
        names = {m.name for m in members[:-1]}
        for n in rep.nodes:
            if n not in members and names & set(n.inputs):
                raise ArchError(f"{n.name}: reads from inside group {g!r}", n.span)
        for m in members:
            rest = m.local_name.split(".", 1)[-1]
            if "." in rest or "." not in m.local_name or TORCH_OPS[m.op].inline is not None:
                raise ArchError(f"{m.name}: groups nest one level in model.py", m.span)
    return list(groups.items())


def _block_class(cls: BlockClass, ctx: Context) -> list[str]:
    rep = max(cls.instances, key=lambda i: len(i.nodes))
    groups = _chains(rep)
    what = f"block {cls.template!r} of the spec" if cls.template else "a block of the spec"
    doc = [f'    """{_doc(what[0].upper() + what[1:])}: {", ".join(g for g, _ in groups)}.']
    doc += [f"    {g}=True builds the {g} layers; without them the {g} is the identity."
            for g in cls.optional]
    doc[-1] += '"""'
    sig = cls.signature()
    lines = ["", "", f"class {cls.name}(nn.Module):", *doc, "",
             f"    def __init__(self{', ' + sig if sig else ''}):", "        super().__init__()"]
    for g, members in groups:
        if TORCH_OPS[members[0].op].inline is not None:
            continue
        if "." in members[0].local_name:
            body = [f"self.{g} = nn.Sequential(OrderedDict(["]
            for m in members:
                expr, note = cls.sources[m.local_name]
                body.append(f"    ({m.local_name.split('.', 1)[1]!r}, {expr}),"
                            + (f"  # {_comment(note)}" if note else ""))
            body.append("]))")
        else:
            expr, note = cls.sources[g]
            body = [f"self.{g} = {expr}" + (f"  # {_comment(note)}" if note else "")]
        if g in cls.optional:
            body = [f"if {g}:", *("    " + b for b in body), "else:", f"    self.{g} = None"]
        lines += ["        " + b for b in body]
    lines += ["", "    def forward(self, x):"]
    ins = {f"${k}": "x" if k == 0 else f"x{k}" for k in range(len(rep.inputs))}
    if len(rep.inputs) > 1:
        lines[-1] = f"    def forward(self, {', '.join(ins.values())}):"
    local = {n.name: n.local_name for n in rep.nodes}
    ref = {n.name: {i: local.get(i, f"${rep.inputs.index(i)}" if i in rep.inputs else i)
                    for i in n.inputs} for n in rep.nodes}
    units = [(ms[-1].local_name, tuple(ref[ms[0].name][i] for i in ms[0].inputs)) for _, ms in groups]
    fw = _Forward(ins, _last_uses(units), set(ins))
    inplace = {n.local_name for n in rep.nodes
               if all(m.name in ctx.inplace for i in cls.instances for m in i.nodes
                      if m.local_name == n.local_name)}
    for k, ((g, ms), (value, args)) in enumerate(zip(groups, units)):
        op = TORCH_OPS[ms[0].op]
        if op.inline is not None:
            fw.emit(k, value, args, lambda a, n=ms[0]: op.inline(n, ctx, a),
                    augment=ms[0].local_name in inplace)
        elif g in cls.optional:
            fw.emit(k, value, args, lambda a, g=g: f"{a[0]} if self.{g} is None else self.{g}({a[0]})",
                    hint=_hint(g, ms))
        else:
            fw.emit(k, value, args, lambda a, g=g: f"self.{g}({', '.join(a)})", hint=_hint(g, ms))
    out = fw.var[local[rep.output]]
    return lines + ["        " + ln for ln in fw.lines] + [f"        return {out}"]


def _hint(group: str, members: list[Node]) -> str:
    if all(m.role == "shortcut" for m in members):
        return "identity"
    return group if "." in members[0].local_name else "out"


def _counts_line(graph: Graph) -> str:
    from archdsl.analysis.count import count  # torch-free, analytic
    c = count(graph, convention="paper")
    return (f"{c.total.params:,} parameters; {c.total.macs:,} multiply-adds (conv+fc) "
            f"per {dims_text(graph.input_shape)} image")


def _classifier(graph: Graph, stages, ctx: Context) -> tuple[Node | None, tuple[str, str] | None]:
    """The last stage-level layer whose ``out_features`` is the class count, and its source
    with ``num_classes`` written in (None, None when there is none)."""
    nodes = [it for _, items in stages for it in items if isinstance(it, Node)]
    for n in reversed(nodes):
        if n.get("out_features") == graph.num_classes:
            attrs = tuple((k, MARK if k == "out_features" else v) for k, v in n.attrs)
            expr, note = layer_source(dataclasses.replace(n, attrs=attrs), ctx)
            if re.search(rf"(?<![\w.]){MARK}(?![\w.])", expr):
                return n, (expr.replace(str(MARK), "num_classes"), note)
    return None, None


def generate_source(graph: Graph) -> str:
    """Readable, standalone PyTorch source for ``graph`` (see the module docstring)."""
    ctx = Context(_inplace(graph))
    stages = stage_items(graph)
    for name, _ in stages:
        check_ident(name, "stage")
    cls = class_name(graph.name)
    taken = {cls, "Stage", "build", "create_model", *_HELPERS,
             *(n for n, v in vars(layers).items() if isinstance(v, type))}
    classes = block_classes([it for _, items in stages for it in items if isinstance(it, Instance)],
                            graph, ctx, taken)
    clf, clf_src = _classifier(graph, stages, ctx)
    init = _net_init(graph, stages, classes, ctx, clf, clf_src)
    fwd, run = _net_forwards(graph, stages, ctx)
    blocks = [ln for c in dict.fromkeys(classes.values()) for ln in _block_class(c, ctx)]
    body = "\n".join(blocks + ["", "", f"class {cls}(nn.Module):",
                               f'    """{_doc(repr(graph.name))}: {dims_text(graph.input_shape)} '
                               f'image → num_classes logits."""', ""]
                     + init + fwd + _builders(cls, clf is not None, graph.num_classes))
    prelude = [src for name, src in _HELPERS.items() if re.search(rf"\b{name}\(", body)]
    prelude += [inspect.getsource(getattr(layers, name)).rstrip() for name, v in vars(layers).items()
                if isinstance(v, type) and v.__module__ == layers.__name__
                and re.search(rf"\b{name}\(", body)]
    prelude.append(_STAGE + (_RUN if run else ""))
    text = "\n\n\n".join(prelude) + "\n" + body
    return "\n".join(_header(graph) + _imports(text) + ["", "", ""]) + text + "\n"


def _header(graph: Graph) -> list[str]:
    kv = lambda pairs: ", ".join(f"{k}={v!r}" if str(k).isidentifier() else f"{k!r}={v!r}"  # noqa: E731
                                 for k, v in pairs) or "none"
    file = PurePath(str(graph.file)).name
    return ['"""' + _doc(f"{class_name(graph.name)}: PyTorch model generated by archdsl from "
                         f"{file!r} (network {graph.name!r})."), "",
            f"Input {dims_text(graph.input_shape)} → {graph.num_classes} classes; depth {graph.depth};",
            _counts_line(graph) + ".",
            _doc(f"Parameters: {kv(graph.params)}. Settings: {kv(graph.settings)}."),
            "Standalone (needs only torch). forward() returns logits: the spec's soft-max is",
            "the loss's job. Module names follow the spec's stages and blocks (conv2_x.0.conv1).",
            '"""']


def _imports(text: str) -> list[str]:
    """Only the imports the source uses."""
    lines = []
    if re.search(r"\bOrderedDict\b", text):
        lines += ["from collections import OrderedDict", ""]
    if re.search(r"\bmath\.", text):
        lines += ["import math", ""]
    if re.search(r"\btorch\.", text):
        lines.append("import torch")
    if re.search(r"\bF\.", text):
        lines.append("import torch.nn.functional as F")
    return lines + ["from torch import nn"]


def _net_init(graph, stages, classes, ctx, clf, clf_src) -> list[str]:
    arg = f", num_classes={graph.num_classes!r}" if clf is not None else ""
    lines = [f"    def __init__(self{arg}):", "        super().__init__()"]
    for name, items in stages:
        if not items:
            raise ArchError(f"stage {name!r} has no layers")
        nb = sum(isinstance(i, Instance) for i in items)
        lines.append(f"        # {name}" + (f": {nb} block{'s' * (nb > 1)}" if nb else "")
                     + f" → {dims_text(_shape(graph, items[-1]))}")
        lines.append(f"        self.{name} = Stage(")
        i, auto = 0, 0
        while i < len(items):
            it = items[i]
            shape = dims_text(_shape(graph, it))
            if isinstance(it, Node):
                if "." in it.local_name or not it.local_name:
                    raise ArchError(f"{it.name}: a stage-level layer needs a plain name", it.span)
                expr, note = clf_src if it is clf else layer_source(it, ctx)
                lines.append(f"            ({it.local_name!r}, {expr}),  # {shape}"
                             + (f"; {_comment(note)}" if note else ""))
                i += 1
                continue
            c = classes[it.name]
            call = c.call(it)
            if it.local != str(auto):
                lines.append(f"            ({it.local!r}, {call}),  # {shape}")
                i += 1
                continue
            j = i + 1
            while (j < len(items) and isinstance(items[j], Instance) and classes[items[j].name] is c
                   and c.call(items[j]) == call and items[j].local == str(auto + j - i)):
                j += 1
            run = f"*({call} for _ in range({j - i}))" if j - i > 1 else call
            lines.append(f"            {run},  # {shape}")
            auto, i = auto + j - i, j
        lines.append("        )")
    return lines


def _shape(graph: Graph, item) -> tuple[int, ...]:
    return graph.shapes[item.output if isinstance(item, Instance) else item.name]


def _item_io(item) -> tuple[str, tuple[str, ...]]:
    return (item.output, item.inputs) if isinstance(item, Instance) else (item.name, item.inputs)


def _net_forwards(graph: Graph, stages, ctx: Context) -> tuple[list[str], bool]:
    """forward, forward_features, forward_stages; and whether Stage.run is used."""
    flat = [(s, it) for s, items in stages for it in items]
    split = next((k for k, (_, it) in enumerate(flat)
                  if isinstance(it, Node) and it.op in HEAD_OPS), len(flat))
    prev, chain = "input", True
    for _, it in flat:
        out, ins = _item_io(it)
        chain &= ins == (prev,)
        prev = out
    head = ["", "    def forward(self, x):", '        """Logits for a batch of images."""']
    feats = ["", "    def forward_features(self, x):",
             '        """The network up to the head (global pool / flatten / fc): the last feature map."""']
    per = ["", "    def forward_stages(self, x):", '        """Every stage\'s output, by stage name."""']
    if chain:
        head += [f"        x = self.{s}(x)  # {dims_text(_shape(graph, items[-1]))}"
                 for s, items in stages] + ["        return x"]
        done = [s for s, _ in stages if all(k < split for k, (t, _) in enumerate(flat) if t == s)]
        feats += [f"        x = self.{s}(x)" for s in done]
        run = False
        if split < len(flat):
            s = flat[split][0]
            before = sum(1 for k, (t, _) in enumerate(flat) if t == s and k < split)
            if before:
                feats.append(f"        x = self.{s}.run(x, 0, {before})")
                run = True
        feats.append("        return x")
        per += ["        out = {}", "        for name, stage in self.named_children():",
                "            x = stage(x)", "            out[name] = x", "        return out"]
        return head + feats + per, run
    return head + _walk(flat, len(flat), ctx) + feats + _walk(flat, split, ctx) \
        + per + _walk(flat, len(flat), ctx, stages=True), False


def _walk(flat, stop: int, ctx: Context, stages: bool = False) -> list[str]:
    """A network forward that follows node inputs (a graph that is not a chain of stages)."""
    units = [_item_io(it) for _, it in flat[:stop]]
    last = _last_uses(units)
    if units:
        last[units[-1][0]] = stop
    fw = _Forward({"input": "x"}, last, set())
    if stages:
        fw.lines.append("out = {}")
    for k, (s, it) in enumerate(flat[:stop]):
        value, ins = units[k]
        if isinstance(it, Node) and TORCH_OPS[it.op].inline is not None:
            fw.emit(k, value, ins, lambda a, n=it: TORCH_OPS[n.op].inline(n, ctx, a),
                    hint="x", augment=it.name in ctx.inplace)
        else:
            name = it.local if isinstance(it, Instance) else check_ident(it.local_name, "layer", it)
            fw.emit(k, value, ins, lambda a, s=s, m=name: f"getattr(self.{s}, {m!r})({', '.join(a)})",
                    hint="x")
        if stages and (k + 1 == stop or flat[k + 1][0] != s):
            fw.lines.append(f"out[{s!r}] = {fw.var[value]}")
    result = "out" if stages else fw.var[units[-1][0]] if units else "x"
    return ["        " + ln for ln in fw.lines] + [f"        return {result}"]


def _builders(cls: str, has_classes: bool, num_classes: int) -> list[str]:
    if has_classes:
        return ["", "", f"def build(num_classes={num_classes!r}) -> {cls}:",
                f'    """A freshly initialised {cls} with ``num_classes`` outputs."""',
                f"    return {cls}(num_classes)", "", "", "create_model = build"]
    return ["", "", f"def build() -> {cls}:", f'    """A freshly initialised {cls}."""',
            f"    return {cls}()", "", "", "create_model = build"]
