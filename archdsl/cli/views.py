"""What ``check``, ``show`` and ``list`` print: the text views and their JSON objects.

Every JSON object the CLI prints follows docs/json.md (one schema per command) and uses
the same field names for the same figures everywhere: ``network``, ``input_shape``,
``output_shape``, ``depth``, ``params``, ``nodes``; ``macs`` are conv+fc multiply-adds and a
``flops`` field is always the FLOPs of the ``convention`` named beside it.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any

from archdsl.ir.display import node_params
from archdsl.ir.graph import Graph, dims_text


def print_json(obj: Any) -> None:
    """One indented JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def silence_stdout() -> None:
    """Point stdout at /dev/null: after a broken pipe, the final flush must not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):   # no real file descriptor (an embedding program)
        pass


def summary(g: Graph) -> dict[str, Any]:
    """The headline facts of a network (``check``'s row, ``show``'s header)."""
    return {"network": g.name, "input_shape": list(g.input_shape),
            "output_shape": list(g.output_shape), "num_classes": g.num_classes,
            "depth": g.depth, "params": sum(node_params(g).values()), "nodes": len(g.nodes)}


def _value(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def show_dict(g: Graph) -> dict[str, Any]:
    """``show -f json``: the summary, then one object per node in execution order."""
    params = node_params(g)
    return {**summary(g), "stages": [s.name for s in g.stages],
            "layers": [{"name": n.name, "op": n.op, "stage": n.stage, "block": n.block,
                        "inputs": list(n.inputs), "attrs": {k: _value(v) for k, v in n.attrs},
                        "output_shape": list(n.shape), "params": params[n.name]}
                       for n in g.nodes]}


def show_text(g: Graph) -> str:
    """``show``: a header line, column titles, then per stage one line per node with its
    op, output shape, parameters and attributes (inputs when not the previous node)."""
    s = summary(g)
    params = node_params(g)
    lines = [f"network {g.name}  input {dims_text(g.input_shape)}  classes {g.num_classes}  "
             f"depth {g.depth}  params {s['params']:,}  nodes {s['nodes']}",
             f"  {'node':<28} {'op':<16} {'output':<12} {'params':>11}  attributes"]
    for stage, nodes in g.listing():
        lines.append(f"{stage.name}:")
        for n, ins in nodes:
            attrs = ", ".join(f"{k}={_text(v)}" for k, v in n.attrs)
            lines.append(f"  {n.name:<28} {n.op:<16} {dims_text(n.shape):<12} "
                         f"{params[n.name]:>11,}  {attrs}{ins}")
    return "\n".join(lines) + "\n"


def _text(v: Any) -> str:
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
