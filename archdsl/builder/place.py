"""Placing resolved layers: each :class:`~archdsl.builder.layer.Layer` becomes IR nodes, named after
its stage, with shapes inferred one node after the other.

:mod:`archdsl.builder.expand` says which units a layer becomes before shapes are known; this module
wires them to their inputs, fills in what depends on the input shape (input channels, pool
padding, an implicit flatten) and builds a block's main path, shortcut and add.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archdsl.builder import expand
from archdsl.builder import settings as cfg
from archdsl.lang import syntax as ast
from archdsl.errors import ArchError, collect
from archdsl.ir.graph import Node, attrs as mkattrs, dims_text
from archdsl.builder.layer import Layer
from archdsl.ir.ops import OPS, ShapeError

MAX_NODES = 2_000_000  # hard ceiling on expansion, far beyond ResNet-1202's ~7,000 nodes


@dataclass
class State:
    """Where shape inference stands: the current producer and its shape."""
    src: str
    shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    nodes: list[Node] = field(default_factory=list)
    errors: list[ArchError] = field(default_factory=list)
    # (stage, base name or "block") -> how many placed so far; numbering without rescanning
    counters: dict[tuple[str, str], int] = field(default_factory=dict)


def place(layer: Layer, rep: int, first_in_stage: bool, st: ast.Stage, sname: str,
          s: cfg.Settings, state: State, is_classifier: bool, counts: dict[str, int]) -> None:
    """Append the nodes of copy ``rep`` of ``layer`` (in stage ``st`` named ``sname``, under
    settings ``s``) to ``state``, inferring each node's shape from its input.

    ``counts`` (from :func:`archdsl.builder.expand.stage_counts`) says which base names the stage
    numbers (``conv1``, ``conv2``); a block is named by its index in the stage
    (``conv2_x.0``). Shape errors are appended to ``state.errors`` to be reported together;
    one that leaves no shape to go on with is raised at once."""
    if len(state.nodes) > MAX_NODES:
        raise ArchError(f"the network expands to more than {MAX_NODES:,} layers", layer.span,
                        hint="reduce the repeat counts")
    if layer.kind == "block":
        j = state.counters.get((sname, "block"), 0)
        state.counters[(sname, "block")] = j + 1
        _block(layer, rep, f"{sname}.{j}", sname, s, state, first_in_stage, st)
        return
    for u in expand.units(layer, s, is_classifier):
        k = state.counters.get((sname, u.base), 0) + 1
        state.counters[(sname, u.base)] = k
        local = u.base if counts.get(u.base, 0) <= 1 else f"{u.base}{k}"
        _emit(u, f"{sname}.{local}", sname, None, "main", (state.src,), state, rep)


def _emit(u: expand.Unit, name, sname, block, role, inputs, state: State, rep=0) -> Node | None:
    """Place one unit as node ``name`` after ``inputs``; None where it could not be placed."""
    a = dict(u.attrs)
    in_shapes = [state.shape if i == state.src else _shape_of(i, state) for i in inputs]
    shape = in_shapes[0]
    if u.op == "conv":
        a["in_channels"] = shape[0] if len(shape) == 3 else 0
        depth = a.pop("depth", None)
        if depth is not None:
            if len(shape) == 3 and (depth < 1 or shape[0] % depth):
                state.errors.append(ArchError(f"kernel depth {depth} does not divide the "
                                              f"{shape[0]} input channels", u.error_at or u.span,
                                              hint="the depth is input channels ÷ groups",
                                              notes=u.notes))
                return None
            a["groups"] = shape[0] // depth if len(shape) == 3 else 1
        if rep > 0 and u.layer is not None and "stride" in u.layer.explicit:
            a["stride"] = (1, 1)   # a repeated layer downsamples once, in its first copy
    elif u.op == "bn":
        a["channels"] = shape[0]
    elif u.op == "fc":
        if len(shape) == 3 and shape[1:] == (1, 1):
            flat = expand.Unit("flatten", {}, u.span, "flatten")
            # A 1×1 map before an fc is flattened implicitly, as the papers imply.
            _emit(flat, _sibling(name, "flatten", state), sname, block, role, inputs, state)
            inputs = (state.src,)
            shape = state.shape
        a["in_features"] = shape[0] if len(shape) == 1 else 0
    elif u.op in ("maxpool", "avgpool") and "padding" not in a:
        a["padding"] = expand.pool_padding(shape, a["kernel"], a["stride"])
    try:
        if u.op == "fc" and len(shape) != 1:
            raise ShapeError(f"fully connected layer after an unflattened "
                             f"{dims_text(shape)} map",
                             "insert 'flatten' (or a global 'average pool') before it")
        out = OPS[u.op].infer(a, in_shapes if u.op == "add" else [shape])
    except ShapeError as e:
        state.errors.append(ArchError(e.message, u.error_at or u.span, hint=e.hint, notes=u.notes))
        out = expand.fallback(u.op, a, shape)
        if out is None:
            collect(state.errors)
    node = Node(name, u.op, tuple(inputs), mkattrs(**a), tuple(out), u.span, sname, block, role)
    state.nodes.append(node)
    state.src, state.shape = name, node.shape
    return node


def _shape_of(name: str, state: State):
    if name == "input":
        return state.input_shape
    for n in reversed(state.nodes):
        if n.name == name:
            return n.shape
    raise KeyError(name)


def _block(layer: Layer, rep, bname, sname, s: cfg.Settings, state: State, first, st) -> None:
    """Place a block as ``bname``: its convs (with bn and ReLU), then its shortcut and add."""
    block_in, in_shape = state.src, state.shape
    if len(in_shape) != 3:
        state.errors.append(ArchError("a block needs a feature map, but its input is flat",
                                      layer.span, hint="put the blocks before the flatten / fully "
                                                       "connected layers"))
        collect(state.errors)
    stride = 1
    if rep == 0:
        if "stride" in layer.explicit:
            stride = layer.attrs["stride"][0]
        elif first and st.size is not None:
            stride = expand.implied_stride(in_shape[1], st.size.values[0])
    k = len(layer.entries)
    notes = ((f"block '{layer.block_name}' is defined here", layer.block_span),) \
        if layer.block_span else ()
    target = _stride_target(layer, s)
    # A named block's conv fails for the arguments of one use: point at that use, and
    # at the conv in the definition.
    at = layer.span if layer.block_span else None
    for i, entry in enumerate(layer.entries, 1):
        a = expand.conv_attrs(entry.attrs, s, (stride, stride) if i - 1 == target else (1, 1))
        conv_notes = ((f"in this convolution of block '{layer.block_name}'", entry.span),) \
            if at else ()
        _emit(expand.Unit("conv", a, entry.span, "conv", entry, at, conv_notes),
              f"{bname}.conv{i}", sname, bname, "main", (state.src,), state)
        if s.batchnorm:
            _emit(expand.Unit("bn", expand.bn_attrs(), entry.span, "bn"), f"{bname}.bn{i}", sname,
                  bname, "main", (state.src,), state)
        if i < k or s.shortcut == "plain" or not s.relu_after_add:
            _emit(expand.Unit("relu", {}, entry.span, "relu"), f"{bname}.relu{i}", sname,
                  bname, "main", (state.src,), state)
    if s.shortcut == "plain":
        return
    main_src, main_shape = state.src, state.shape
    short_src = block_in
    changes = main_shape[0] != in_shape[0] or stride != 1
    if s.shortcut == "A" and changes:
        if main_shape[0] < in_shape[0]:
            state.errors.append(ArchError(
                f"option A cannot shrink {in_shape[0]} channels to {main_shape[0]} by zero-padding",
                layer.span, hint="use 'with shortcut B' (projection)", notes=notes))
            collect(state.errors)
        state.src, state.shape = block_in, in_shape
        pad = {"stride": stride, "pad_before": 0, "pad_after": main_shape[0] - in_shape[0]}
        node = _emit(expand.Unit("pad_shortcut", pad, layer.span, "shortcut"), f"{bname}.shortcut",
                     sname, bname, "shortcut", (block_in,), state)
        short_src = node.name
    elif s.shortcut == "C" or (s.shortcut == "B" and changes):
        state.src, state.shape = block_in, in_shape
        projection = {"kernel": (1, 1), "out_channels": main_shape[0], "padding": (0, 0)}
        a = expand.conv_attrs(projection, s, (stride, stride))
        _emit(expand.Unit("conv", a, layer.span, "conv"), f"{bname}.shortcut.conv", sname, bname,
              "shortcut", (block_in,), state)
        if s.batchnorm:
            _emit(expand.Unit("bn", expand.bn_attrs(), layer.span, "bn"), f"{bname}.shortcut.bn", sname,
                  bname, "shortcut", (state.src,), state)
        short_src = state.src
    state.src, state.shape = main_src, main_shape
    _emit(expand.Unit("add", {}, layer.span, "add", notes=notes), f"{bname}.add", sname, bname,
          "main", (main_src, short_src), state)
    if s.relu_after_add:
        _emit(expand.Unit("relu", {}, layer.span, "relu"), f"{bname}.relu", sname, bname, "main",
              (state.src,), state)


def _stride_target(layer: Layer, s: cfg.Settings) -> int:
    """Which conv of a block takes its stride: the first one ``with stride on K×K`` names,
    else the first conv. The fallback is deliberate: ResNet's prose ("stride 2 on the first
    1×1") covers its basic blocks too, whose first conv is a 3×3 (Table 1's 18/34 columns)."""
    return next((i for i, e in enumerate(layer.entries)
                 if e.attrs["kernel"][0] == s.stride_on), 0)


def _sibling(name: str, base: str, state: State) -> str:
    """A fresh name next to ``name`` for an implicit node (the flatten before a 1×1 → fc)."""
    prefix = name.rsplit(".", 1)[0]
    taken = {n.name for n in state.nodes}
    cand, k = f"{prefix}.{base}", 2
    while cand in taken:
        cand, k = f"{prefix}.{base}{k}", k + 1
    return cand
