"""IR -> Counts: parameters, multiply-adds and FLOPs per node, block, stage and in total.

Analytic and torch-free: everything follows from the op table (:mod:`archdsl.ir.ops`) and the
node shapes, re-inferred when another input size is asked for. Three named conventions
decide what the headline figure (``Row.cost``) of each node means:

``paper``
    multiply-adds (MACs) of conv and fc layers, nothing else. This is what the ResNet and
    VGG papers and torchvision's docs call "FLOPs".
``fvcore``
    exactly what fvcore 0.1.5's ``FlopCountAnalysis`` totals on the lowered module in eval
    mode: conv (dilated or not) and fc MACs (no bias), BatchNorm 2 per element,
    global/adaptive average pooling 1 per input element; activations, max/avg pooling,
    LRN, add, mul, concat, zero-pad shortcuts and softmax are uncounted (fvcore ignores
    them or has no handle for them). Checked op by op against fvcore itself in
    ``tests/test_verify.py`` and ``tests/test_ops.py``.
``full``
    every arithmetic operation as FLOPs: 2 per conv/fc MAC plus all elementwise costs.

Each op's rules are its entry in the op table (:class:`~archdsl.ir.ops.OpSpec`: ``macs``,
``flops`` in its ``column``, ``fvcore``). The elementwise columns are always the ``full``
rules, whatever the convention: ``bn``, ``lrn``, ``relu`` (every activation: ReLU, ReLU6,
leaky ReLU, sigmoid), ``pool``, ``add`` (elementwise arithmetic: residual add, gating mul)
and ``softmax``; ``macs`` and ``flops`` (= 2×MACs) cover conv and fc only. All per-sample
figures are multiplied by ``batch``; params are not.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import floor
from typing import Any, Callable, NamedTuple

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph, Node, Shape, dims_text
from archdsl.ir.ops import OPS, ZERO, CountRule, OpSpec, ShapeError, infer_shape

CONVENTIONS: dict[str, str] = {
    "paper": "paper FLOPs = conv+fc multiply-adds (as the ResNet/VGG papers and torchvision)",
    "fvcore": "fvcore FLOPs = conv+fc multiply-adds + BatchNorm 2/element + adaptive/global "
              "avg pool 1/input element (fvcore 0.1.5 FlopCountAnalysis, eval mode)",
    "full": "full FLOPs = 2 per conv/fc multiply-add + every elementwise op (BN, LRN, ReLU, "
            "pooling, residual add, softmax)",
}
"""The named counting conventions and the one-line description every report prints."""

COLUMNS = ("bn", "lrn", "relu", "pool", "add", "softmax")
"""Elementwise cost columns, each a category of ops counted by the ``full`` rules (``relu``
holds every activation, ``add`` every elementwise arithmetic op)."""


class Row(NamedTuple):
    """One line of a report: a node, or the roll-up of a block, a stage or the network.

    ``macs`` are conv/fc multiply-adds and ``flops`` = 2×macs; the elementwise columns use
    the ``full`` rules; ``cost`` is the figure under the report's convention. All but
    ``params`` already include the batch. (A named tuple rather than a dataclass: a report
    makes one per node, and tuples are the cheapest immutable records Python builds.)
    """
    name: str
    op: str
    stage: str | None
    block: str | None
    shape: Shape
    params: int = 0
    macs: int = 0
    flops: int = 0
    bn: int = 0
    lrn: int = 0
    relu: int = 0
    pool: int = 0
    add: int = 0
    softmax: int = 0
    cost: int = 0

    @property
    def elementwise(self) -> int:
        """Sum of the elementwise columns."""
        return self[8] + self[9] + self[10] + self[11] + self[12] + self[13]




@dataclass(frozen=True, slots=True)
class Counts:
    """The counts of one network at one input size, batch and convention.

    ``layers`` has one row per IR node in execution order; ``blocks`` one per residual block,
    or per stage for the nodes that sit directly in a stage (``conv1``, the head); ``stages``
    one per stage; ``total`` the whole network. Group rows carry their last node's shape.
    ``blocks`` and ``stages`` are summed from ``layers`` when first asked for (most callers
    want the total or one level only), then kept.
    """
    network: str
    convention: str
    input_shape: Shape
    batch: int
    layers: tuple[Row, ...]
    total: Row
    _levels: dict[str, tuple[Row, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def blocks(self) -> tuple[Row, ...]:
        """One row per block (or per stage, for nodes outside blocks)."""
        return self._level("block", 3)

    @property
    def stages(self) -> tuple[Row, ...]:
        """One row per stage."""
        return self._level("stage", 2)

    def _level(self, level: str, key: int) -> tuple[Row, ...]:
        """The roll-up of ``layers`` by Row field ``key``, summed on first use and kept."""
        rows = self._levels.get(level)
        if rows is None:
            rows = self._levels[level] = _rollup(self.layers, key, level)
        return rows

    @property
    def description(self) -> str:
        """What ``cost`` means under this convention (printed with every report)."""
        return CONVENTIONS[self.convention]

    def by(self, level: str) -> tuple[Row, ...]:
        """The rows at ``level``: ``"layer"``, ``"block"`` or ``"stage"``."""
        return {"layer": self.layers, "block": self.blocks, "stage": self.stages}[level]

    def percent(self, level: str, decimals: int = 1) -> list[float]:
        """Each row's share of the total cost, rounded so that the shares add up to 100."""
        rows = self.by(level)
        if not self.total.cost:
            return [0.0] * len(rows)
        scale = 10 ** decimals
        exact = [100 * scale * r.cost / self.total.cost for r in rows]
        # largest-remainder rounding: floor everything, then hand out the missing units
        units = [floor(x) for x in exact]
        order = sorted(range(len(rows)), key=lambda k: units[k] - exact[k])
        for k in order[:100 * scale - sum(units)]:
            units[k] += 1
        return [u / scale for u in units]

    def __repr__(self) -> str:
        """One line: network, convention, input, params, MACs and the headline figure."""
        t = self.total
        return (f"Counts({self.network}, {self.convention}, {self.batch}×"
                f"{dims_text(self.input_shape)}: {t.params:,} params, {t.macs:,} MACs"
                + (" = paper FLOPs)" if self.convention == "paper"
                   else f", {t.cost:,} {cost_label(self.convention)})"))

    def _repr_html_(self) -> str:
        """The per-stage table (output, params, MACs, the convention's figure, %) as HTML."""
        from html import escape
        head = "".join(f"<th>{h}</th>" for h in ("stage", "output", "params", "MACs",
                                                  escape(cost_label(self.convention)), "%"))
        body = "".join(f"<tr><td>{escape(r.name)}</td><td>{escape(dims_text(r.shape))}</td>"
                       f"<td>{r.params:,}</td><td>{r.macs:,}</td><td>{r.cost:,}</td>"
                       f"<td>{p:.1f}</td></tr>"
                       for r, p in zip(self.stages, self.percent("stage")))
        return (f"<div><b>{escape(repr(self))}</b><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table><i>{escape(self.description)}</i></div>")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: metadata, total, and stage, block and layer rows."""
        def row(r: Row) -> dict[str, Any]:
            d = r._asdict()
            d["shape"] = list(r.shape)
            d["elementwise"] = r.elementwise
            return d
        return {"network": self.network, "convention": self.convention,
                "description": self.description, "input_shape": list(self.input_shape),
                "batch": self.batch, "total": row(self.total),
                "stages": [row(r) for r in self.stages], "blocks": [row(r) for r in self.blocks],
                "layers": [row(r) for r in self.layers]}


def cost_label(convention: str) -> str:
    """What the headline figure is called: paper FLOPs are MACs; the others are FLOPs."""
    return "MACs = paper FLOPs" if convention == "paper" else f"FLOPs ({convention})"


def count(graph: Graph, input: Shape | None = None, batch: int = 1,
          convention: str = "fvcore") -> Counts:
    """Count ``graph`` at ``input`` = (C, H, W) (default: the spec's) for ``batch`` samples.

    ``convention`` is ``"paper"``, ``"fvcore"`` or ``"full"`` (see the module docstring).
    Raises :class:`ArchError` when the input does not fit the network, e.g. when a fully
    connected layer fixes the size of the flattened map.
    """
    if convention not in CONVENTIONS:
        raise ArchError(f"unknown counting convention {convention!r}",
                        hint="use one of " + ", ".join(CONVENTIONS))
    if batch < 1:
        raise ArchError(f"batch must be at least 1, not {batch}")
    shapes = reinfer(graph, input) if input is not None else graph.shapes
    layers = _layer_rows(graph, shapes, batch, convention)
    sums = [sum(column) for column in list(zip(*layers))[5:]]
    total = Row(graph.name, "total", None, None, layers[-1].shape, *sums)
    return Counts(graph.name, convention, shapes["input"], batch, layers, total)


def reinfer(graph: Graph, input: Shape) -> dict[str, Shape]:
    """Per-node output shapes of ``graph`` fed with ``input`` (C, H, W), ``"input"`` first.

    Uses each op's shape rule; a failure becomes an :class:`ArchError` at the node's span.
    """
    input = tuple(int(d) for d in input)
    if input == tuple(graph.input_shape):
        return graph.shapes
    shapes: dict[str, Shape] = {"input": input}
    for n in graph.nodes:
        ins = [shapes[i] for i in n.inputs]
        if n.op == "fc" and len(ins[0]) == 1 and ins[0][0] != n["in_features"]:
            raise _fc_error(graph, n, ins[0][0], shapes)
        try:
            shapes[n.name] = infer_shape(n.op, dict(n.attrs), ins)
        except ShapeError as e:
            raise ArchError(f"at input {dims_text(input)}, {n.name}: {e.message}", n.span, e.hint,
                            source=graph.source or None) from None
    return shapes


def _fc_error(graph: Graph, fc: Node, got: int, shapes: dict[str, Shape]) -> ArchError:
    """Explain that ``fc`` fixes the input size: which map it needs and which it gets."""
    by_name = {n.name: n for n in graph.nodes}
    src = by_name.get(fc.inputs[0])
    # walk back through flat nodes (dropout, flatten) to the map the flatten consumed
    while src is not None and src.op != "flatten" and len(src.shape) == 1:
        src = by_name.get(src.inputs[0])
    need_map = got_map = ""
    if src is not None and src.op == "flatten":
        before = src.inputs[0]
        need = graph.input_shape if before == "input" else by_name[before].shape
        need_map, got_map = f" (a {dims_text(need)} map)", f" ({dims_text(shapes[before])})"
    return ArchError(
        f"fully connected layer {fc.name} needs {fc['in_features']} input features{need_map} "
        f"but input {dims_text(shapes['input'])} gives {got}{got_map}",
        fc.span,
        f"this network's fc layers fix its input at {dims_text(graph.input_shape)}; use that size, "
        "or pool adaptively before the flatten",
        source=graph.source or None)


class _Rules(NamedTuple):
    """An op's counting rules, with the ones that always give 0 left out (None)."""
    defaults: dict[str, Any] | None
    params: CountRule | None
    macs: CountRule | None
    flops: CountRule | None
    column: int
    fvcore: CountRule | None


def _rules(spec: OpSpec) -> _Rules:
    def used(rule: CountRule) -> CountRule | None:
        return None if rule is ZERO else rule
    defaults = {k: d for k, (_, d) in spec.optional.items()} or None
    column = COLUMNS.index(spec.column) if spec.column else -1
    return _Rules(defaults, used(spec.params_rule), used(spec.macs_rule),
                  used(spec.flops_rule) if spec.column else None, column, used(spec.fvcore_rule))


_RULES: dict[str, _Rules] = {name: _rules(spec) for name, spec in OPS.items()}
"""Per op, what :func:`_layer_rows` calls: the op table's rules, read once at import."""


_PLANS: dict[int, tuple[Graph, list[tuple]]] = {}
_PLANS_KEPT = 16


def _plan(graph: Graph) -> list[tuple]:
    """Per node: its rules, its attributes with the op's defaults filled in, and its input
    names — the static part of counting, derived once per graph (graphs are frozen) and kept
    for the last few graphs counted, so that counting at several sizes, batches or conventions
    does not redo it. Keyed by identity; the entry holds the graph, so the id stays its own."""
    hit = _PLANS.get(id(graph))
    if hit is not None and hit[0] is graph:
        return hit[1]
    plan = []
    # (op, id(attrs)) -> filled in: stamped copies share their attrs (and every op without
    # attributes the empty tuple, hence the op in the key)
    filled: dict[tuple[str, int], dict[str, Any]] = {}
    for n in graph.nodes:
        r = _RULES[n.op]
        a = filled.get((n.op, id(n.attrs)))
        if a is None:
            a = filled[n.op, id(n.attrs)] = ({**r.defaults, **dict(n.attrs)} if r.defaults
                                             else dict(n.attrs))
        plan.append((r, a, n.inputs, n))
    if len(_PLANS) >= _PLANS_KEPT:
        _PLANS.pop(next(iter(_PLANS), None), None)
    _PLANS[id(graph)] = (graph, plan)
    return plan


def _layer_rows(graph: Graph, shapes: dict[str, Shape], batch: int,
                convention: str) -> tuple[Row, ...]:
    """One Row per node: params, macs, flops, the six elementwise columns and the cost, batch
    included. This loop is the whole cost of :func:`count`, so rules that always give 0 are
    skipped, the static part of each node comes from :func:`_plan`, and rows are made as the
    plain tuples they are."""
    rows = []
    append, new = rows.append, tuple.__new__
    paper, fvcore = convention == "paper", convention == "fvcore"
    # (op, attrs, input and output shape objects) -> the figures: a stamped copy's nodes
    # share all of them with the copy before (the graph keeps them alive, so ids stay theirs)
    known: dict[tuple, tuple] = {}
    for r, a, inputs, n in _plan(graph):
        ins = [shapes[i] for i in inputs]
        out = shapes[n.name]
        key = (n.op, id(a), id(out), *map(id, ins))
        figures = known.get(key)
        if figures is not None:
            append(new(Row, (n.name, n.op, n.stage, n.block, out, *figures)))
            continue
        macs = r.macs(a, ins, out) * batch if r.macs else 0
        cols = [0, 0, 0, 0, 0, 0]
        elementwise = 0
        if r.flops:
            cols[r.column] = elementwise = r.flops(a, ins, out) * batch
        if paper:
            cost = macs
        elif fvcore:
            cost = macs + r.fvcore(a, ins, out) * batch if r.fvcore else macs
        else:
            cost = 2 * macs + elementwise
        known[key] = figures = (r.params(a, ins, out) if r.params else 0, macs, 2 * macs,
                                *cols, cost)
        append(new(Row, (n.name, n.op, n.stage, n.block, out, *figures)))
    return tuple(rows)


def _rollup(layers: tuple[Row, ...], key: int, op: str) -> tuple[Row, ...]:
    """Group rows by field ``key`` (3: block, falling back to the stage; 2: stage), in
    first-appearance order, and sum their values column by column."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(layers):
        groups.setdefault(r[key] or r[2], []).append(i)
    out = []
    for name, idx in groups.items():
        first, last = layers[idx[0]], layers[idx[-1]]
        block = name if op == "block" and first.block == name else None
        sums = map(sum, zip(*[layers[i][5:] for i in idx]))
        out.append(Row(name, op, first.stage, block, last.shape, *sums))
    return tuple(out)
