"""What generated source is written in terms of: stages of layers and block instances, the
names Python accepts. (Which layers work in place and where the head begins are lowering's
decisions, :func:`~archdsl.lowering.torch_ops.context` and ``head_start``, shared.)

Shared by the class fitting (:mod:`.codegen_blocks`) and the writers (:mod:`.codegen_write`,
:mod:`.codegen`). A name that cannot be a Python name is an :class:`~archdsl.errors.ArchError`
here, before any of it reaches generated source.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph, Node
# the name rules live with the IR (the builder checks stage names with them too)
from archdsl.ir.names import MODULE_ATTRIBUTES, RESERVED  # noqa: F401  (re-exported)


def class_name(name: str) -> str:
    """A Python class name for a network or template name (``vgg16-bn`` -> ``Vgg16Bn``)."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", str(name)) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Network"
    return out if out[0].isalpha() else "Net" + out


def group_of(local: str) -> str:
    """The layer group a block-local name belongs to (``shortcut`` for ``shortcut.conv``)."""
    return local.split(".", 1)[0]


def check_ident(name: str, what: str, node: Node | None = None) -> str:
    """``name`` if it can be written as a Python attribute or variable, else an ArchError."""
    if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
            and not name.startswith("_") and name not in RESERVED):
        raise ArchError(f"{what} {name!r} cannot be written as a Python name in model.py",
                        node.span if node is not None else None,
                        hint="name stages and layers with letters, digits and underscores")
    return name


@dataclass(frozen=True, slots=True)
class Instance:
    """One block of the network: its nodes, the outside values it reads (in first-use
    order) and the node whose value leaves it."""
    name: str
    local: str
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]
    output: str

    def wiring(self) -> tuple:
        """``(local, op, refs)`` per node; a ref is a local name or ``$k`` (input k)."""
        inside = {n.name: n.local_name for n in self.nodes}
        return tuple((n.local_name, n.op, tuple(inside[i] if i in inside
                                                else f"${self.inputs.index(i)}" for i in n.inputs))
                     for n in self.nodes)


def stage_items(graph: Graph) -> list[tuple[str, list[Node | Instance]]]:
    """Per stage, its items in execution order: stage-level nodes and block instances."""
    readers: dict[str, set[str]] = {}
    for n in graph.nodes:
        for i in n.inputs:
            readers.setdefault(i, set()).add(n.name)
    out: list[tuple[str, list[Node | Instance]]] = [(s.name, []) for s in graph.stages]
    where = {s.name: items for s, (_, items) in zip(graph.stages, out)}
    done: set[str] = set()
    i = 0
    while i < len(graph.nodes):
        n = graph.nodes[i]
        if n.block is None:
            where[n.stage].append(n)
            i += 1
            continue
        if n.block in done:
            raise ArchError(f"{n.name}: the nodes of block {n.block!r} are not contiguous", n.span)
        j = i
        while j < len(graph.nodes) and graph.nodes[j].block == n.block:
            j += 1
        nodes = graph.nodes[i:j]
        names = {m.name for m in nodes}
        ins = tuple(dict.fromkeys(x for m in nodes for x in m.inputs if x not in names))
        leaving = [m.name for m in nodes
                   if readers.get(m.name, set()) - names or m.name == graph.output]
        if len(leaving) != 1:
            raise ArchError(f"block {n.block!r} must have exactly one output, not {leaving}", n.span)
        where[n.stage].append(Instance(n.block, n.block.rsplit(".", 1)[-1], nodes, ins, leaving[0]))
        done.add(n.block)
        i = j
    return out


def item_io(item) -> tuple[str, tuple[str, ...]]:
    return (item.output, item.inputs) if isinstance(item, Instance) else (item.name, item.inputs)
