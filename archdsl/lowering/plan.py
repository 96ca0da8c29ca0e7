"""The structure lowering and codegen share: stages of layers and residual blocks.

An IR :class:`~archdsl.ir.graph.Graph` is a flat, topologically ordered node list. Both the
``nn.Module`` builder (:mod:`.lower`) and the source generator (:mod:`.codegen`) want it
grouped the way the paper's table is: stages, each a sequence of plain layers and residual
blocks, each block a main path, an optional shortcut path, the addition and what follows.
:func:`plan` does that grouping once and checks that the wiring really has that shape, so
neither consumer has to interpret node inputs at run time. Torch-free.
"""
from __future__ import annotations

from dataclasses import dataclass

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph, Node

# Ops after which the network no longer holds a spatial feature map: the head starts here.
HEAD_OPS = frozenset({"gap", "adaptive_avgpool", "flatten", "fc"})
# Ops whose backward pass does not need their own output and which return a fresh tensor,
# so an in-place op (ReLU, the residual add) may overwrite it, as torchvision does.
_OUTPUT_FREE = frozenset({"conv", "bn", "fc", "add", "maxpool", "avgpool", "lrn", "gap",
                          "adaptive_avgpool", "pad_shortcut"})


class PlanError(ArchError, ValueError):
    """The graph's wiring is not a chain of layers and residual blocks (a hand-edited
    ``ir.yaml`` can get here): an ArchError, so the CLI prints it and exits 2."""


@dataclass(frozen=True, slots=True)
class Block:
    """A residual (or plain) block: ``main`` nodes in order; ``shortcut`` nodes (empty for an
    identity shortcut); ``add`` (None for a plain block); ``post`` nodes after the addition."""
    name: str
    local: str
    main: tuple[Node, ...]
    shortcut: tuple[Node, ...]
    add: Node | None
    post: tuple[Node, ...]

    @property
    def nodes(self) -> tuple[Node, ...]:
        return (*self.main, *self.shortcut, *((self.add,) if self.add else ()), *self.post)

    @property
    def add_inplace(self) -> bool:
        """Whether the addition may write into the main path's output (as torchvision's
        ``out += identity``): safe when the producer's backward does not reuse it."""
        return self.main[-1].op in ("conv", "bn")


@dataclass(frozen=True, slots=True)
class StagePlan:
    """One stage: its items (a :class:`~archdsl.ir.graph.Node` for a plain layer, or a
    :class:`Block`) in execution order."""
    name: str
    items: tuple[Node | Block, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """The grouped network. ``split`` = (stage index, item index) where the head begins:
    everything before it is ``forward_features``. ``inplace`` names the ReLUs that may
    overwrite their input (its only consumer, and not the network input)."""
    graph: Graph
    stages: tuple[StagePlan, ...]
    split: tuple[int, int]
    inplace: frozenset[str]


def plan(graph: Graph) -> Plan:
    """Group ``graph`` into stages, layers and blocks; raise :class:`PlanError` if its
    wiring is not the contract's (see notes/ir-contract.md)."""
    by_stage: dict[str, list[Node]] = {s.name: [] for s in graph.stages}
    for n in graph.nodes:
        by_stage[n.stage].append(n)
    stages, prev = [], "input"
    for stage in graph.stages:
        items: list[Node | Block] = []
        nodes = by_stage[stage.name]
        i = 0
        while i < len(nodes):
            n = nodes[i]
            if n.block is None:
                if n.inputs != (prev,) or "." in n.local_name:
                    raise PlanError(f"{n.name}: a stage-level layer must follow {prev!r}")
                items.append(n)
                prev = n.name
                i += 1
                continue
            j = i
            while j < len(nodes) and nodes[j].block == n.block:
                j += 1
            block = _block(n.block, nodes[i:j], prev)
            items.append(block)
            prev = _last(block)
            i = j
        stages.append(StagePlan(stage.name, tuple(items)))
    if prev != graph.output:
        raise PlanError(f"the last layer {graph.output!r} is not the end of the chain")
    return Plan(graph, tuple(stages), _split(stages), _inplace(graph))


def _last(block: Block) -> str:
    if block.post:
        return block.post[-1].name
    return (block.add or block.main[-1]).name


def _block(name: str, nodes: list[Node], block_in: str) -> Block:
    main, short, post, add = [], [], [], None
    for n in nodes:
        if n.op == "add":
            if add is not None:
                raise PlanError(f"{name}: a block has one addition")
            add = n
        elif n.role == "shortcut":
            short.append(n)
        elif add is None:
            main.append(n)
        else:
            post.append(n)
    if not main:
        raise PlanError(f"{name}: a block needs a main path")
    _chain(main, block_in, name)
    if short:
        _chain(short, block_in, name)
        if not short[0].local_name.startswith("shortcut"):
            raise PlanError(f"{name}: shortcut layers are named shortcut[.…]")
    if add is not None:
        want = (main[-1].name, short[-1].name if short else block_in)
        if add.inputs != want:
            raise PlanError(f"{add.name}: inputs {add.inputs} should be {want}")
        _chain(post, add.name, name)
    elif short:
        raise PlanError(f"{name}: a shortcut without an addition")
    local = name.rsplit(".", 1)[-1]
    return Block(name, local, tuple(main), tuple(short), add, tuple(post))


def _chain(nodes: list[Node], first_input: str, where: str) -> None:
    prev = first_input
    for n in nodes:
        if n.inputs != (prev,):
            raise PlanError(f"{where}: {n.name} should take {prev!r}, not {n.inputs}")
        prev = n.name


def _split(stages: list[StagePlan]) -> tuple[int, int]:
    """Where the head starts: the first global pool / flatten / fc at stage level."""
    for si, st in enumerate(stages):
        for ii, item in enumerate(st.items):
            if isinstance(item, Node) and item.op in HEAD_OPS:
                return si, ii
    return len(stages), 0


def _inplace(graph: Graph) -> frozenset[str]:
    """ReLUs that may run in place: sole consumer of a fresh, output-free producer (never
    the caller's input tensor, never a tensor another layer still reads)."""
    uses: dict[str, int] = {}
    ops = {n.name: n.op for n in graph.nodes}
    for n in graph.nodes:
        for i in n.inputs:
            uses[i] = uses.get(i, 0) + 1
    return frozenset(n.name for n in graph.nodes
                     if n.op == "relu" and ops.get(n.inputs[0]) in _OUTPUT_FREE
                     and uses[n.inputs[0]] == 1)
