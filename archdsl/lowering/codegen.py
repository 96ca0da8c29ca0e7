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

import ast
import dataclasses
import functools
import importlib.util
import re
from pathlib import PurePath

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph, Node, dims_text
from archdsl.lowering.codegen_blocks import MARK, block_classes
from archdsl.lowering.codegen_items import Instance, check_ident, class_name, item_io, stage_items
from archdsl.lowering.codegen_write import Body, block_class, comment, doc, last_uses
from archdsl.lowering.torch_ops import TORCH_OPS, Context, context, head_start, layer_source

__all__ = ["generate_source", "class_name"]
# the prelude's helpers by name, in the order model.py defines them
_PRELUDE = ("he", "normal", "constant_bias", "run", "Stage")


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
    ctx = context(graph)   # the same in-place choices as lowering
    stages = stage_items(graph)
    for name, _ in stages:
        check_ident(name, "stage")
    cls = class_name(graph.name)
    layer_classes = {name: src for name, src in definitions("archdsl.lowering.layers").items()
                     if src.startswith("class ")}
    taken = {cls, "build", "create_model", *_PRELUDE, *layer_classes}
    classes = block_classes([it for _, items in stages for it in items if isinstance(it, Instance)],
                            graph, ctx, taken)
    clf, clf_src = _classifier(graph, stages, ctx)
    chain = _is_chain(stages)
    init = _net_init(graph, stages, classes, ctx, clf, clf_src, chain)
    fwd = _net_forwards(graph, stages, ctx, chain)
    blocks = [ln for c in dict.fromkeys(classes.values()) for ln in block_class(c, ctx)]
    body = "\n".join(blocks + ["", "", f"class {cls}(nn.Module):",
                               f'    """{doc(repr(graph.name))}: {dims_text(graph.input_shape)} '
                               f'image → num_classes logits."""', ""]
                     + init + fwd + _builders(cls, clf is not None, graph.num_classes))
    used = _names(body)
    helpers = definitions("archdsl.lowering.codegen_prelude")
    prelude = [helpers[name] for name in _PRELUDE if name == "Stage" or name in used]
    prelude[-1:-1] = [src for name, src in layer_classes.items() if name in used]
    text = "\n\n\n".join(prelude) + "\n" + body
    return "\n".join(_header(graph) + _imports(_names(text)) + ["", "", ""]) + text + "\n"


@functools.lru_cache(maxsize=None)   # the files do not change while we run: parse them once
def definitions(module: str) -> dict[str, str]:
    """The source of each top-level function and class of ``module``, read from its file
    without importing it: the helpers model.py copies are real, tested code, but importing
    them would import torch, which ``archdsl build`` must not pay for."""
    path = importlib.util.find_spec(module).origin
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return {d.name: ast.get_source_segment(text, d) for d in ast.parse(text).body
            if isinstance(d, (ast.FunctionDef, ast.ClassDef))}


def _names(source: str) -> set[str]:
    """The names ``source`` reads (not words in its docstrings or comments)."""
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def _header(graph: Graph) -> list[str]:
    def kv(pairs) -> str:
        return ", ".join(f"{k}={v!r}" if str(k).isidentifier() else f"{k!r}={v!r}"
                         for k, v in pairs) or "none"

    file = PurePath(str(graph.file)).name
    return ['"""' + doc(f"{class_name(graph.name)}: PyTorch model generated by archdsl from "
                         f"{file!r} (network {graph.name!r})."), "",
            f"Input {dims_text(graph.input_shape)} → {graph.num_classes} classes; depth {graph.depth};",
            _counts_line(graph) + ".",
            doc(f"Parameters: {kv(graph.params)}."), doc(f"Settings: {kv(graph.settings)}."),
            "Standalone (needs only torch). forward() returns logits: the spec's soft-max is",
            "the loss's job. Module names follow the spec's stages and blocks (conv2_x.0.conv1).",
            '"""']


def _imports(used: set[str]) -> list[str]:
    """Only the imports the source uses."""
    lines = []
    if "OrderedDict" in used:
        lines += ["from collections import OrderedDict", ""]
    if "math" in used:
        lines += ["import math", ""]
    if "torch" in used:
        lines.append("import torch")
    if "F" in used:
        lines.append("import torch.nn.functional as F")
    return lines + ["from torch import nn"]


def _is_chain(stages) -> bool:
    """Whether every stage item reads the previous item's output only (a Sequential)."""
    prev = "input"
    for _, items in stages:
        for it in items:
            out, ins = item_io(it)
            if ins != (prev,):
                return False
            prev = out
    return True


def _net_init(graph, stages, classes, ctx, clf, clf_src, chain: bool) -> list[str]:
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
            if isinstance(it, Node) and not chain and TORCH_OPS[it.op].inline is not None:
                i += 1   # written out in forward
                continue
            if isinstance(it, Node):
                if "." in it.local_name or not it.local_name:
                    raise ArchError(f"{it.name}: a stage-level layer needs a plain name", it.span)
                expr, note = clf_src if it is clf else layer_source(it, ctx)
                lines.append(f"            ({it.local_name!r}, {expr}),  # {shape}"
                             + (f"; {comment(note)}" if note else ""))
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
            many = f"*({call} for _ in range({j - i}))" if j - i > 1 else call
            lines.append(f"            {many},  # {shape}")
            auto, i = auto + j - i, j
        lines.append("        )")
    return lines


def _shape(graph: Graph, item) -> tuple[int, ...]:
    return graph.shapes[item.output if isinstance(item, Instance) else item.name]


def _net_forwards(graph: Graph, stages, ctx: Context, chain: bool) -> tuple[list[str], bool]:
    """forward, forward_features and forward_stages."""
    flat = [(s, it) for s, items in stages for it in items]
    start = head_start(graph)   # where lowering's forward_features stops too
    split = next((k for k, (_, it) in enumerate(flat) if it is start), len(flat))
    head = ["", "    def forward(self, x):", '        """Logits for a batch of images."""']
    feats = ["", "    def forward_features(self, x):",
             '        """The network up to the head (global pool / flatten / fc): the last feature map."""']
    per = ["", "    def forward_stages(self, x):", '        """Every stage\'s output, by stage name."""']
    if chain:
        head += [f"        x = self.{s}(x)  # {dims_text(_shape(graph, items[-1]))}"
                 for s, items in stages] + ["        return x"]
        done = [s for s, _ in stages if all(k < split for k, (t, _) in enumerate(flat) if t == s)]
        feats += [f"        x = self.{s}(x)" for s in done]
        if split < len(flat):
            s = flat[split][0]
            before = sum(1 for k, (t, _) in enumerate(flat) if t == s and k < split)
            if before:
                feats.append(f"        x = run(self.{s}, x, 0, {before})")
        feats.append("        return x")
        per += ["        out = {}", "        for name, stage in self.named_children():",
                "            x = stage(x)", "            out[name] = x", "        return out"]
        return head + feats + per
    return head + _walk(flat, len(flat), ctx) + feats + _walk(flat, split, ctx) \
        + per + _walk(flat, len(flat), ctx, stages=True)


def _walk(flat, stop: int, ctx: Context, stages: bool = False) -> list[str]:
    """A network forward that follows node inputs (a graph that is not a chain of stages)."""
    units = [item_io(it) for _, it in flat[:stop]]
    last = last_uses(units)
    if units:
        last[units[-1][0]] = stop
    fw = Body({"input": "x"}, last, set())
    if stages:
        fw.lines.append("out = {}")
    for k, (s, it) in enumerate(flat[:stop]):
        value, ins = units[k]
        if isinstance(it, Node) and TORCH_OPS[it.op].inline is not None:
            fw.emit(k, value, ins, lambda a, n=it: TORCH_OPS[n.op].inline(n, ctx, a),
                    hint="x", augment=it.name in ctx.inplace)
        else:
            name = it.local if isinstance(it, Instance) else check_ident(it.local_name, "layer", it)
            call = f"self.{s}.{name}" if name.isidentifier() else f"getattr(self.{s}, {name!r})"
            fw.emit(k, value, ins, lambda a, c=call: f"{c}({', '.join(a)})", hint="x")
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
