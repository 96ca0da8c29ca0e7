"""Placing resolved layers: each :class:`~archdsl.builder.layer.Layer` becomes IR nodes, named after
its stage, with shapes inferred one node after the other.

:mod:`archdsl.builder.expand` says which units a layer becomes before shapes are known; this module
wires them to their inputs and fills in what depends on the input shape (input channels, pool
padding, an implicit flatten). A block becomes nodes as its kind in
:mod:`archdsl.builder.blocks` says, placed through a :class:`BlockSite`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archdsl.builder import blocks, expand, mobile
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
    # the block copy placed last, when it can be stamped again (see _restamp)
    last_copy: "_Copy | None" = None


#: Whether a repeated block's later copies are stamped from the copy before (see _restamp);
#: the tests build every bundled network both ways and hold the graphs equal.
STAMP = True


@dataclass
class _Copy:
    """Where copy ``rep`` of block ``layer`` (named ``<sname>.<j>``) lies in ``State.nodes``
    (``start``:``end``), what it read (``src``, made by an ``src_op`` node, of ``in_shape``)."""
    layer: Layer
    rep: int
    sname: str
    j: int
    src: str
    src_op: str | None
    in_shape: tuple[int, ...]
    start: int
    end: int


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
        kind = blocks.kind_of(layer, s)   # the bracket's kind, as the settings make it (preact)
        # Nodes keep their block's template: a named block's name, else a kind's own
        # (``dense_layer``, ``inception``); a plain residual bracket has none.
        if STAMP and rep >= 2 and _restamp(layer, rep, sname, j, state):
            return
        start, errors, src, in_shape = len(state.nodes), len(state.errors), state.src, state.shape
        site = BlockSite(state, sname, f"{sname}.{j}", layer.block_name or kind.template)
        declared = st.size.values if first_in_stage and st.size is not None else None
        blocks.expand_block(kind, layer, site, s, rep, declared)
        ends_copy = len(state.nodes) > start and state.src == state.nodes[-1].name
        state.last_copy = _Copy(layer, rep, sname, j, src, _op_of(src, start, state), in_shape,
                                start, len(state.nodes)) \
            if ends_copy and len(state.errors) == errors else None
        return
    for u in expand.units(layer, s, is_classifier):
        k = state.counters.get((sname, u.base), 0) + 1
        state.counters[(sname, u.base)] = k
        local = u.base if counts.get(u.base, 0) <= 1 else f"{u.base}{k}"
        _emit(u, f"{sname}.{local}", sname, None, "main", (state.src,), state, rep)


def _op_of(src: str, start: int, state: State) -> str | None:
    """The op of ``src`` when it is the node just before ``state.nodes[start]`` (else None)."""
    before = state.nodes[start - 1] if start else None
    return before.op if before is not None and before.name == src else None


def _restamp(layer: Layer, rep: int, sname: str, j: int, state: State) -> bool:
    """Place copy ``rep`` ≥ 2 of block ``layer`` as copy ``rep - 1`` renamed, when that copy
    was placed just before, without errors, from the same kind of producer and input shape.

    From the second copy on, a copy's nodes depend only on its input's shape and producer
    (the first may take a stride): expanding a ×2000 block again and again is most of a deep
    network's build (ResNet at n = 2000, 6,000 blocks). A copy that reads anything but its
    own nodes and its input is expanded in full instead. False: nothing was placed."""
    m = state.last_copy
    if (m is None or m.layer is not layer or m.rep != rep - 1 or m.sname != sname
            or m.j != j - 1 or m.in_shape != state.shape
            or m.src_op is None or _op_of(state.src, len(state.nodes), state) != m.src_op):
        return False
    old, new = f"{sname}.{j - 1}", f"{sname}.{j}"
    rename = {m.src: state.src}
    copied = []
    for n in state.nodes[m.start:m.end]:
        if n.block != old or not n.name.startswith(old + "."):
            return False
        try:
            inputs = tuple(rename[i] for i in n.inputs)
        except KeyError:   # it reads a node outside the copy
            return False
        rename[n.name] = name = new + n.name[len(old):]
        copied.append(Node(name, n.op, inputs, n.attrs, n.shape, n.span, n.stage, new, n.role,
                           n.template))
    start, src = len(state.nodes), state.src
    state.nodes.extend(copied)
    state.src, state.shape = copied[-1].name, copied[-1].shape
    state.last_copy = _Copy(layer, rep, sname, j, src, m.src_op, m.in_shape, start,
                            len(state.nodes))
    return True


@dataclass
class BlockSite:
    """Placement as a block's expander (:mod:`archdsl.builder.blocks`) sees it: nodes named
    under the block ``name`` (``conv2_x.0``) and tagged with its ``template``."""
    state: State
    stage: str
    name: str
    template: str | None

    @property
    def src(self) -> str:
        return self.state.src

    @property
    def shape(self) -> tuple[int, ...]:
        return self.state.shape

    def emit(self, unit: expand.Unit, local: str, role: str, inputs: tuple[str, ...]
             ) -> Node | None:
        """Place ``unit`` as ``<block>.<local>`` after ``inputs``."""
        return _emit(unit, f"{self.name}.{local}", self.stage, self.name, role, inputs,
                     self.state, template=self.template)

    def fail(self, error: ArchError) -> None:
        """Record ``error`` and raise everything recorded so far."""
        self.state.errors.append(error)
        collect(self.state.errors)

    def node(self, name: str) -> Node | None:
        """The node placed as ``name`` (None for the network input)."""
        return next((n for n in reversed(self.state.nodes) if n.name == name), None)


def _emit(u: expand.Unit, name, sname, block, role, inputs, state: State, rep=0,
          template: str | None = None) -> Node | None:
    """Place one unit as node ``name`` after ``inputs``; None where it could not be placed."""
    a = dict(u.attrs)
    in_shapes = [state.shape if i == state.src else _shape_of(i, state) for i in inputs]
    shape = in_shapes[0]
    if u.op == "conv":
        a["in_channels"] = shape[0] if len(shape) == 3 else 0
        compress = a.pop("compress", None)
        if a["out_channels"] is None and compress is not None:
            # DenseNet's transition: ⌊θ·m⌋ of its m input channels (dw and expansion convs
            # get theirs from mobile.placed_conv)
            a["out_channels"] = int(compress * shape[0]) if len(shape) == 3 else 1
        depth = a.pop("depth", None)
        if depth is not None:
            if len(shape) == 3 and (depth < 1 or shape[0] % depth):
                state.errors.append(ArchError(f"kernel depth {depth} does not divide the "
                                              f"{shape[0]} input channels", u.error_at or u.span,
                                              hint="the depth is input channels ÷ groups",
                                              notes=u.notes))
                return None
            a["groups"] = shape[0] // depth if len(shape) == 3 else 1
        problem = mobile.placed_conv(a, a["in_channels"])   # dw, k×k×in×out, expansion
        if problem is not None:   # reported; the conv is still placed, so later errors show
            state.errors.append(ArchError(problem, u.error_at or u.span, notes=u.notes,
                                          hint="the channels are set by the layer before it"))
        if rep > 0 and u.layer is not None and "stride" in u.layer.explicit:
            a["stride"] = (1, 1)   # a repeated layer downsamples once, in its first copy
    elif u.op == "bn":
        a["channels"] = shape[0]
    elif u.op == "fc":
        if len(shape) == 3 and shape[1:] == (1, 1):
            flat = expand.Unit("flatten", {}, u.span, "flatten")
            # A 1×1 map before an fc is flattened implicitly, as the papers imply.
            _emit(flat, _sibling(name, "flatten", state), sname, block, role, inputs, state,
                  template=template)
            inputs = (state.src,)
            shape = state.shape
        a["in_features"] = shape[0] if len(shape) == 1 else 0
        problem = mobile.placed_in(a, a["in_features"])   # 'fc / s1 1024×1000'
        if problem is not None and len(shape) == 1:
            state.errors.append(ArchError(problem, u.span, hint="the fc's input is set by the "
                                                                "layers before it"))
    elif u.op in ("maxpool", "avgpool") and "padding" not in a:
        a["padding"] = expand.pool_padding(shape, a["kernel"], a["stride"])
    try:
        if u.op == "fc" and len(shape) != 1:
            raise ShapeError(f"fully connected layer after an unflattened "
                             f"{dims_text(shape)} map",
                             "insert 'flatten' (or a global 'average pool') before it")
        out = OPS[u.op].infer(a, in_shapes if len(inputs) > 1 else [shape])
    except ShapeError as e:
        state.errors.append(ArchError(e.message, u.error_at or u.span, hint=e.hint, notes=u.notes))
        out = expand.fallback(u.op, a, shape)
        if out is None:
            collect(state.errors)
    node = Node(name, u.op, tuple(inputs), mkattrs(**a), tuple(out), u.span, sname, block, role,
                template)
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


def _sibling(name: str, base: str, state: State) -> str:
    """A fresh name next to ``name`` for an implicit node (the flatten before a 1×1 → fc)."""
    prefix = name.rsplit(".", 1)[0]
    taken = {n.name for n in state.nodes}
    cand, k = f"{prefix}.{base}", 2
    while cand in taken:
        cand, k = f"{prefix}.{base}{k}", k + 1
    return cand
