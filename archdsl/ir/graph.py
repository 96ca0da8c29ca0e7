"""The IR: a frozen, topologically ordered graph of typed layers with stage/block structure.

Produced by :func:`archdsl.builder.build.build` (shapes already inferred and validated); consumed
by counting, tables, formatting and lowering. Nothing here changes after construction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from archdsl.errors import ArchError, Span
from archdsl.ir.ops import OPS, Shape, ShapeError, dims_text

__all__ = ["Node", "Stage", "Graph", "Shape", "attrs", "dims_text"]


@dataclass(frozen=True, slots=True)
class Node:
    """One layer.

    ``name`` is unique and dotted after the spec's stages and blocks (``conv2_x.0.conv1``);
    ``inputs`` names the producers (``"input"`` is the network input); ``attrs`` is a sorted
    tuple of ``(key, value)`` pairs whose keys the op table (:mod:`archdsl.ir.ops`) defines,
    an optional attribute at its default left out (``node[key]`` still gives the default);
    ``shape`` is the inferred output shape; ``role`` is ``"main"``, ``"shortcut"``
    (projection/zero-pad shortcut layers, which the papers do not count in the depth) or
    ``"gate"`` (an SE gate's layers, not counted either);
    ``template`` names the block definition the node came from (``bottleneck`` for
    ``block bottleneck(c) = …``), None outside named blocks, so codegen and diagrams can
    name things as the spec did.
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: tuple[tuple[str, Any], ...]
    shape: Shape
    span: Span
    stage: str
    block: str | None = None
    role: str = "main"
    template: str | None = None

    def __getitem__(self, key: str) -> Any:
        """The attribute ``key``; an optional one the node leaves out gives its op's default."""
        for k, v in self.attrs:
            if k == key:
                return v
        spec = OPS.get(self.op)
        if spec is not None and key in spec.optional:
            return spec.default(key)
        raise KeyError(f"{self.op} node {self.name!r} has no attribute {key!r}")

    def get(self, key: str, default: Any = None) -> Any:
        """The attribute ``key`` (or its op's default), else ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    @property
    def local_name(self) -> str:
        """The name inside its block or stage (``conv1`` for ``conv2_x.0.conv1``)."""
        prefix = self.block or self.stage
        return self.name[len(prefix) + 1:] if self.name.startswith(prefix + ".") else self.name


@dataclass(frozen=True, slots=True)
class Stage:
    """A row group of the paper's table: its name, declared output size and node names."""
    name: str
    declared: tuple[int, int] | None
    nodes: tuple[str, ...]
    span: Span


DISPLAY: dict[str, Callable[["Graph"], str]] = {}
"""Notebook renderers of a Graph by kind (``"svg"``), registered by :mod:`archdsl.api`."""


@dataclass(frozen=True, slots=True)
class Graph:
    """A validated network. ``nodes`` are in execution order; ``output`` names the last one.

    ``params`` are the resolved family parameters (``n``, ``depths``…) and ``settings`` the
    network-wide choices (shortcut option, batchnorm, stride placement, init scheme) as
    sorted ``(key, value)`` tuples. ``source``/``file`` keep the spec text for diagnostics,
    checkpoints and codegen headers.
    """

    name: str
    input_shape: Shape
    num_classes: int
    nodes: tuple[Node, ...]
    stages: tuple[Stage, ...]
    params: tuple[tuple[str, Any], ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()
    file: str = "<spec>"
    source: str = field(default="", compare=False, repr=False)

    @property
    def output(self) -> str:
        return self.nodes[-1].name

    @property
    def output_shape(self) -> Shape:
        return self.nodes[-1].shape

    def node(self, name: str) -> Node:
        """The node called ``name`` (KeyError if none)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def shapes(self) -> dict[str, Shape]:
        """Per-node output shapes, batch excluded, in execution order (``"input"`` first)."""
        out: dict[str, Shape] = {"input": self.input_shape}
        out.update((n.name, n.shape) for n in self.nodes)
        return out

    def input_shape_of(self, node: Node) -> Shape:
        """The shape of ``node``'s first input."""
        src = node.inputs[0]
        return self.input_shape if src == "input" else self.node(src).shape

    @property
    def depth(self) -> int:
        """Weighted layers as the papers count them: conv and fc on the main path."""
        return sum(1 for n in self.nodes if n.role == "main" and n.op in OPS and OPS[n.op].weighted)

    def stage_of(self, node: Node) -> Stage:
        for s in self.stages:
            if s.name == node.stage:
                return s
        raise KeyError(node.stage)

    def stage_output_shape(self, stage: Stage) -> Shape:
        return self.node(stage.nodes[-1]).shape

    def setting(self, key: str, default: Any = None) -> Any:
        for k, v in self.settings:
            if k == key:
                return v
        return default

    def param(self, key: str, default: Any = None) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        return default

    def _repr_svg_(self) -> str | None:
        """The network as a picture, so a notebook shows it (:func:`archdsl.draw`)."""
        # The IR sits below analysis and must not import it: the picture comes from the hook
        # that archdsl's API registers (importing any archdsl module runs archdsl/__init__).
        render = DISPLAY.get("svg")
        return render(self) if render else None

    def lint(self) -> None:
        """Check that the graph is well formed; raise :class:`ArchError` at the first fault.

        Inputs exist and come earlier (or are ``"input"``); node and stage names are unique;
        every attribute is in its op's schema, the required ones present, values of the
        schema's types, optional ones at their default left out; input counts match the
        op's arity; every stored shape is what its op's rule gives; each stage lists exactly
        the nodes that name it, in order. Linear in the number of nodes. Run after every
        build and every ``ir.yaml`` read.
        """
        src = self.source or None
        top = Span(self.file, 1, 1)
        if not self.nodes:
            raise ArchError("the graph has no nodes", top, source=src)
        if not _is_shape(self.input_shape, 3):
            raise ArchError(f"the input shape must be three positive integers (C×H×W), not "
                            f"{self.input_shape!r}", top, source=src)
        listed: dict[str, list[str]] = {}
        for st in self.stages:
            if not isinstance(st.name, str) or st.name in listed:
                raise ArchError(f"stage name {st.name!r} is "
                                + ("used twice" if st.name in listed else "not a string"),
                                st.span, source=src)
            listed[st.name] = []
        later = {n.name for n in self.nodes}
        shapes: dict[str, Shape] = {"input": self.input_shape}
        seen: dict = {}   # (op, attrs, input shapes) already found good: repeated blocks
        for n in self.nodes:
            try:
                _lint_node(n, shapes, later, seen)
                if n.stage not in listed:
                    raise ArchError(f"{n.name}: stage {n.stage!r} is not one of the stages", n.span)
            except ArchError as e:
                raise e.with_source(src)
            listed[n.stage].append(n.name)
            shapes[n.name] = n.shape
        for st in self.stages:
            have = tuple(listed[st.name])
            if not have or st.nodes != have:
                raise ArchError(_stage_mismatch(st, have), st.span, source=src)

    def __repr__(self) -> str:
        """One line: name, depth, input → output, params, nodes (``str`` is the full dump)."""
        from archdsl.ir.display import graph_repr
        return graph_repr(self)

    def _repr_html_(self) -> str:
        """What a notebook shows (it prefers HTML to SVG): the figures, then the picture."""
        from archdsl.ir.display import graph_html
        picture = DISPLAY.get("svg")
        return graph_html(self) + (picture(self) if picture else "")

    def __str__(self) -> str:
        """A readable dump: one line per node with op, attributes and output shape."""
        lines = [f"network {self.name}  input {dims_text(self.input_shape)}"
                 f"  classes {self.num_classes}  depth {self.depth}"]
        for stage, nodes in self.listing():
            lines.append(f"{stage.name}:")
            for n, ins in nodes:
                attrs = ", ".join(f"{k}={_fmt(v)}" for k, v in n.attrs)
                lines.append(f"  {n.name:<28} {n.op:<16} {dims_text(n.shape):<12}"
                             f" {attrs}{ins}")
        return "\n".join(lines)

    def listing(self) -> Iterator[tuple[Stage, list[tuple[Node, str]]]]:
        """Per stage, its nodes in order, each with ``" <- a, b"`` naming its inputs, or ``""``
        when its one input is the node before it (the dumps of ``str`` and ``archdsl show``)."""
        # one index, not a scan per node: ResNet-1202 has 4,209 nodes
        index = {n.name: i for i, n in enumerate(self.nodes)}
        for stage in self.stages:
            rows = []
            for name in stage.nodes:
                i = index[name]
                n = self.nodes[i]
                prev = self.nodes[i - 1].name if i else "input"
                rows.append((n, "" if n.inputs == (prev,) else f" <- {', '.join(n.inputs)}"))
            yield stage, rows


def _is_shape(v: Any, rank: int | None = None) -> bool:
    """A tuple of positive ints (of length ``rank`` when given)."""
    return (isinstance(v, tuple) and (rank is None or len(v) == rank)
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in v))


def _lint_node(n: Node, shapes: dict[str, Shape], names: set[str], seen: dict) -> None:
    """One node's checks (see :meth:`Graph.lint`); ``shapes`` holds the nodes before it.
    ``seen`` maps (op, attrs, input shapes) already checked to their output shape: a deep
    network repeats the same few nodes thousands of times, and their attribute and shape
    checks give the same answer each time (ResNet-1202 at n = 2000: 42,009 nodes, ~40 kinds)."""
    if n.name in shapes:
        raise ArchError(f"node name {n.name!r} is used twice" if n.name != "input" else
                        "a node may not be called 'input' (the network input's name)", n.span)
    spec = OPS.get(n.op)
    if spec is None:
        raise ArchError(f"{n.name}: unknown op {n.op!r}", n.span,
                        hint="known ops: " + ", ".join(sorted(OPS)))
    k, want = len(n.inputs), spec.inputs
    if k < want or (k > want and not spec.variadic):
        need = f"at least {want}" if spec.variadic else str(want)
        raise ArchError(f"{n.name}: {n.op} takes {need} input{'s' * (want > 1)}, not {k}", n.span)
    for i in n.inputs:
        if i not in shapes:
            where = "comes after it" if i in names else "is not defined"
            raise ArchError(f"{n.name}: input {i!r} {where}", n.span,
                            hint="a node's inputs are 'input' or nodes before it")
    try:
        key_of = (n.op, n.attrs, tuple(shapes[i] for i in n.inputs))
        hit = seen.get(key_of)
    except TypeError:   # an unhashable value (a hand-made file): checked below, uncached
        key_of = hit = None
    if hit is not None:
        if hit != n.shape:
            raise ArchError(f"{n.name}: stored shape {n.shape} but {n.op} gives {hit}", n.span)
        return
    keys = [key for key, _ in n.attrs]
    if len(set(keys)) != len(keys):
        raise ArchError(f"{n.name}: an attribute is given twice ({', '.join(keys)})", n.span)
    for key, value in n.attrs:
        t = spec.type_of(key)
        if t is None:
            schema = [*spec.required, *spec.optional]
            raise ArchError(f"{n.name}: {n.op} has no attribute {key!r}", n.span,
                            hint=f"{n.op}'s attributes: {', '.join(schema)}" if schema
                            else f"{n.op} takes no attributes")
        if not t.admits(value):
            raise ArchError(f"{n.name}: attribute {key} = {value!r} must be {t.text}", n.span)
        if key in spec.optional and value == spec.default(key):
            raise ArchError(f"{n.name}: attribute {key} = {value!r} is its default and is left "
                            "out of the IR", n.span, hint=f"remove {key}")
    missing = [key for key in spec.required if key not in keys]
    if missing:
        raise ArchError(f"{n.name}: {n.op} needs attribute{'s' * (len(missing) > 1)} "
                        f"{', '.join(missing)}", n.span)
    if not _is_shape(n.shape) or len(n.shape) not in (1, 3):
        raise ArchError(f"{n.name}: shape {n.shape!r} must be C×H×W or F positive integers", n.span)
    try:
        got = spec.infer(dict(n.attrs), [shapes[i] for i in n.inputs])
    except ShapeError as e:
        raise ArchError(f"{n.name}: {e.message}", n.span, e.hint) from None
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
        # the values are well typed, but a hand-made file can still combine them into
        # nonsense the rules were not written for
        raise ArchError(f"{n.name}: malformed node ({type(e).__name__}: {e})", n.span) from None
    if tuple(got) != n.shape:
        raise ArchError(f"{n.name}: stored shape {n.shape} but {n.op} gives {tuple(got)}", n.span)
    if key_of is not None:
        seen[key_of] = n.shape


def _stage_mismatch(st: Stage, have: tuple[str, ...]) -> str:
    """What is wrong with a stage's node list, at its first difference from ``have``."""
    if not have:
        return f"stage {st.name} has no nodes"
    for j, (a, b) in enumerate(zip(st.nodes, have)):
        if a != b:
            return (f"stage {st.name} lists {a!r} as its node {j + 1}, but node {j + 1} of "
                    f"stage {st.name} is {b!r}")
    return (f"stage {st.name} lists {len(st.nodes)} nodes, but {len(have)} nodes are in "
            f"stage {st.name}")


def _fmt(v: Any) -> str:
    return dims_text(v) if isinstance(v, tuple) else str(v)


def attrs(**kw: Any) -> tuple[tuple[str, Any], ...]:
    """Build a node's sorted attribute tuple from keyword arguments."""
    return tuple(sorted(kw.items()))
