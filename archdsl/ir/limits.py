"""Resource budgets checked on the IR before anything is allocated.

A spec may ask for more than a machine can hold (``[3×3, 64] ×1000000000``, an fc with
10¹² weights); these checks refuse it with a located error that states the computed figure
and the limit. The defaults admit every network of the seed papers with room to spare
(ResNet-1202: 1,202 layers, repeat 200; VGG-E: 144 M params, ~30 GiB of activations at
batch 256) and can be raised from the CLI (``--max-params`` …) or the API
(``archdsl.load(spec, limits=Limits(max_params=…))``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Graph
from archdsl.ir.display import node_params
from archdsl.ir.ops import OPS

GIB = 2 ** 30


@dataclass(frozen=True, slots=True)
class Limits:
    """Budgets: learnable parameters, weighted layers, one repeat count, and the float32
    activation memory of one forward pass at ``batch`` (every node's output kept, as
    training keeps them for the backward pass)."""
    max_params: int = 2_000_000_000
    max_depth: int = 10_000
    max_repeat: int = 10_000
    max_activation_bytes: int = 256 * GIB
    batch: int = 1
    #: size caps on the files read, checked before parsing: a spec (the biggest real one is a
    #: few KiB; a 100k-line spec is refused in microseconds, not after seconds of parsing) and a
    #: built ir.yaml (machine-written, ~250 bytes per node plus the spec's text)
    max_spec_bytes: int = 256 * 2 ** 10
    max_ir_bytes: int = 64 * 2 ** 20


def check_depth(weighted: list[tuple[int, Span]], limits: Limits) -> None:
    """Refuse a network whose expanded weighted layers exceed ``limits.max_depth``.

    ``weighted`` is, per resolved layer, how many conv/fc layers it expands to and its span;
    this runs before expansion, so a runaway repeat fails in microseconds.
    """
    total = 0
    for count, span in weighted:
        total += count
        if total > limits.max_depth:
            grand = sum(c for c, _ in weighted)
            raise ArchError(f"the network has {grand:,} weighted layers, over the limit of "
                            f"{limits.max_depth:,}", span,
                            hint="reduce the repeat counts, or raise the limit with --max-depth")


def check_built(graph: Graph, limits: Limits) -> None:
    """All budgets for a graph that arrives already built (an ``ir.yaml``): weighted layers,
    then parameters and activations (:func:`check_graph`). Repeat counts no longer exist."""
    weighted = [(1, n.span) for n in graph.nodes if OPS[n.op].weighted and n.role == "main"]
    check_depth(weighted, limits)
    check_graph(graph, limits)


def check_graph(graph: Graph, limits: Limits) -> None:
    """Refuse a graph over the parameter or activation-memory budget, located at the layer
    where the running total crosses the limit."""
    per_node = node_params(graph).values()
    act_bytes = limits.batch * 4
    activations = [math.prod(n.shape) * act_bytes for n in graph.nodes]
    params_total, act_total = sum(per_node), sum(activations)
    if params_total <= limits.max_params and act_total <= limits.max_activation_bytes:
        return   # within budget: no need to find where a running total crosses it
    params = act = 0
    for node, p, a in zip(graph.nodes, per_node, activations):
        params += p
        if params > limits.max_params:
            raise ArchError(f"the network has {params_total:,} parameters, over the limit of "
                            f"{limits.max_params:,} (crossed at {node.name})", node.span,
                            hint="shrink the layer, or raise the limit with --max-params")
        act += a
        if act > limits.max_activation_bytes:
            raise ArchError(f"activations need {show_bytes(act_total)} at batch {limits.batch} "
                            f"(float32), over the limit of {show_bytes(limits.max_activation_bytes)} "
                            f"(crossed at {node.name})", node.span,
                            hint="use a smaller input or batch, or raise --max-activation")


def show_bytes(n: int) -> str:
    """``512 MiB``, ``1.5 GiB``, ``477.4 GiB``: one decimal in the largest fitting binary unit."""
    for unit, size in (("TiB", 2**40), ("GiB", GIB), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} B"
