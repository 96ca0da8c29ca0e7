"""Short views of a :class:`~archdsl.ir.graph.Graph` for a REPL and a notebook.

``repr`` is one line (name, depth, input → output, params, nodes): a ResNet-152's full
dump is ``str(graph)`` (``archdsl show``), 180 KB that would flood a notebook cell.
``_repr_html_`` is a small table: the headline figures, then one row per stage.
"""
from __future__ import annotations

from typing import Any

from archdsl.ir.ops import OPS, ZERO, dims_text

# The graph's own methods call these (graph.py imports this module lazily): a Graph here is
# any object with Graph's attributes, so this module need not import graph.py back.
Graph = Any


def node_params(graph: Graph) -> dict[str, int]:
    """Learnable parameters per node, in order, from the op table (what ``archdsl.count``
    reports). A deep network repeats a few kinds of node thousands of times, so each
    (op, attrs, input shapes) is counted once; ops without parameters are not asked."""
    shapes = graph.shapes
    known: dict = {}
    out: dict[str, int] = {}
    for node in graph.nodes:
        spec = OPS[node.op]
        if spec.params_rule is ZERO:
            out[node.name] = 0
            continue
        ins = [shapes[i] for i in node.inputs]
        key = (node.op, node.attrs, *ins)
        try:
            p = known.get(key)
        except TypeError:   # an unhashable value (a hand-made ir.yaml): counted uncached
            key = p = None
        if p is None:
            p = spec.params(dict(node.attrs), ins, node.shape)
            if key is not None:
                known[key] = p
        out[node.name] = p
    return out


def graph_repr(graph: Graph) -> str:
    """``Graph(resnet50: depth 50, 3×224×224 → 1000, 25,557,032 params, 177 nodes)``."""
    params = sum(node_params(graph).values())
    return (f"Graph({graph.name}: depth {graph.depth}, {dims_text(graph.input_shape)} → "
            f"{dims_text(graph.output_shape)}, {params:,} params, {len(graph.nodes)} nodes)")


def graph_html(graph: Graph) -> str:
    """The headline figures and a per-stage table (output size, nodes, params) as HTML."""
    from html import escape   # notebooks only: kept out of the command line's start-up
    per_node = node_params(graph)
    rows = "".join(
        f"<tr><td>{escape(s.name)}</td><td>{escape(dims_text(graph.stage_output_shape(s)))}</td>"
        f"<td>{len(s.nodes)}</td><td>{sum(per_node[n] for n in s.nodes):,}</td></tr>"
        for s in graph.stages)
    return (f"<div><b>{escape(graph.name)}</b>: depth {graph.depth}, "
            f"{escape(dims_text(graph.input_shape))} → {escape(dims_text(graph.output_shape))}, "
            f"{sum(per_node.values()):,} params, {len(graph.nodes)} nodes"
            "<table><thead><tr><th>stage</th><th>output</th><th>nodes</th><th>params</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></div>")
