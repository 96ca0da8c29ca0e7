"""The IR: a frozen, topologically ordered graph of typed layers with stage/block structure.

Produced by :func:`archdsl.builder.build.build` (shapes already inferred and validated); consumed
by counting, tables, formatting and lowering. Nothing here changes after construction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from archdsl.errors import Span

Shape = tuple[int, ...]
"""Per-sample shape, batch excluded: ``(C, H, W)`` for maps, ``(F,)`` after flatten."""


@dataclass(frozen=True, slots=True)
class Node:
    """One layer.

    ``name`` is unique and dotted after the spec's stages and blocks (``conv2_x.0.conv1``);
    ``inputs`` names the producers (``"input"`` is the network input); ``attrs`` is a sorted
    tuple of ``(key, value)`` pairs whose keys the op table (:mod:`archdsl.ir.ops`) defines;
    ``shape`` is the inferred output shape; ``role`` is ``"main"`` or ``"shortcut"``
    (projection/zero-pad shortcut layers, which the papers do not count in the depth);
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
        for k, v in self.attrs:
            if k == key:
                return v
        raise KeyError(f"{self.op} node {self.name!r} has no attribute {key!r}")

    def get(self, key: str, default: Any = None) -> Any:
        """The attribute ``key``, or ``default`` when the node has none."""
        for k, v in self.attrs:
            if k == key:
                return v
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
        return sum(1 for n in self.nodes if n.op in ("conv", "fc") and n.role == "main")

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

    def __str__(self) -> str:
        """A readable dump: one line per node with op, attributes and output shape."""
        lines = [f"network {self.name}  input {dims_text(self.input_shape)}"
                 f"  classes {self.num_classes}  depth {self.depth}"]
        # one index, not a scan per node: ResNet-1202 has 4,209 nodes
        index = {n.name: i for i, n in enumerate(self.nodes)}
        for stage in self.stages:
            lines.append(f"{stage.name}:")
            for name in stage.nodes:
                i = index[name]
                n = self.nodes[i]
                prev = self.nodes[i - 1].name if i else "input"
                attrs = ", ".join(f"{k}={_fmt(v)}" for k, v in n.attrs)
                ins = "" if n.inputs == (prev,) else f" <- {', '.join(n.inputs)}"
                lines.append(f"  {n.name:<28} {n.op:<16} {dims_text(n.shape):<12}"
                             f" {attrs}{ins}")
        return "\n".join(lines)


def dims_text(shape: tuple[int, ...]) -> str:
    """A shape or size as the papers print it: ``3×224×224``, ``56×56``."""
    return "×".join(map(str, shape))


def _fmt(v: Any) -> str:
    return dims_text(v) if isinstance(v, tuple) else str(v)


def attrs(**kw: Any) -> tuple[tuple[str, Any], ...]:
    """Build a node's sorted attribute tuple from keyword arguments."""
    return tuple(sorted(kw.items()))
