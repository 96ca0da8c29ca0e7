"""Box labels for diagrams, in the papers' notation.

A layer is labelled as the ResNet paper's Figure 3 prints it: ``7×7 conv, 64, /2``,
``3×3 max pool, /2``, ``avg pool``, ``fc 1000`` (``/2`` on strided layers). A block or a run
of layers written as one spec part is labelled with the text the table code
(:func:`archdsl.analysis.table.stage_rows`) prints for it: ``[3×3, 64; 3×3, 64]``,
``7×7, 64, stride 2``, ``conv3-64 ×2``; a stage with its table cell, one row per line.
A graph without spec text (a hand-built DAG, an ``ir.yaml``) falls back to layer labels.

Units are what one box stands for at a level: a node (``layer``), a block or one spec part's
layers (``block``), a stage (``stage``). Each is a run of consecutive nodes, so the graph of
units is a DAG like the IR itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph, Node
from archdsl.ir.ops import OPS
from archdsl.lang import syntax as ast
from archdsl.lang.fmt import part_text, parts_text

LEVELS = ("layer", "block", "stage")


def layer_label(n: Node) -> str:
    """One layer in Figure 3's notation (``3×3 conv, 128, /2``)."""
    # the words are the op table's (OpSpec.label); an op without a rule shows its summary
    return OPS[n.op].label(dict(n.attrs)) if n.op in OPS else n.op


@dataclass(frozen=True, slots=True)
class Unit:
    """What one box draws: ``nodes`` (a consecutive run), its ``lines`` of label text, ``title``
    (the label on one line, as the table prints it) and its stage."""
    key: str
    nodes: tuple[Node, ...]
    lines: tuple[str, ...]
    title: str
    stage: str


def _key(n: Node, level: str) -> str:
    if level == "layer":
        return n.name
    if level == "stage":
        return n.stage
    # a block, else the layers one spec part made (conv1's conv, bn and relu share a span)
    return n.block or f"{n.stage}@{n.span.line}:{n.span.col}"


def units(g: Graph, level: str) -> list[Unit]:
    """The boxes of ``g`` at ``level`` (``layer``, ``block`` or ``stage``), in execution order."""
    if level not in LEVELS:
        raise ArchError(f"unknown diagram level {level!r}", hint="use layer, block or stage")
    runs: list[list[Node]] = []
    for n in g.nodes:
        if runs and _key(runs[-1][-1], level) == _key(n, level):
            runs[-1].append(n)
        else:
            runs.append([n])
    rows = _rows_by_stage(g) if level != "layer" else {}    # layers need no table
    heads = {(n.span.line, n.span.col) for n in g.nodes}
    out = []
    for i, run in enumerate(runs):
        stage_rows = rows.get(run[0].stage)
        lines = None
        if level == "stage" and stage_rows is not None:
            lines = [prefix + parts_text(r) for prefix, r in stage_rows]
        elif level == "block" and stage_rows is not None:
            lines = _part_lines(run, [r for prefix, r in stage_rows if not prefix], heads)
        if not lines:
            lines = _fallback(run)
        # one line, as the table prints it: a block's entries in brackets, rows by "; "
        title = ("[" + "; ".join(lines) + "]" if level == "block" and run[0].block is not None
                 else "; ".join(lines))
        out.append(Unit(f"{i}:{_key(run[0], level)}", tuple(run), tuple(lines), title, run[0].stage))
    return out


def _rows_by_stage(g: Graph) -> dict[str, list[tuple[str, list[ast.Part]]]]:
    """The table's rows per IR stage name; empty when the graph has no readable spec text."""
    from archdsl.analysis.table import stage_rows
    try:
        spec_stages = stage_rows(g)
    except (ArchError, LookupError, TypeError, ValueError, AttributeError):
        # labels only: a spec the table cannot expand still draws, with the layers' labels
        return {}
    if len(spec_stages) != len(g.stages):
        return {}
    return {st.name: rows for st, rows in zip(g.stages, spec_stages)}


def _inside(span, part: ast.Part) -> bool:
    s = part.span
    start, end = (s.line, s.col), (s.end_line or s.line, s.end_col or s.col + 1)
    return start <= (span.line, span.col) < end


def _part_lines(run: list[Node], rows: list[list[ast.Part]], heads: set) -> list[str] | None:
    """The table's text for one block-level unit: its bracket's entries (the block as the
    table prints it, one entry per line) or its block call (``fire(16, 64, 64)``), without
    the repeat; or its layers' parts (from the part its nodes' span names up to the next
    part where some node starts: ``heads``)."""
    spans = {(n.span.line, n.span.col) for n in run}
    for parts in rows:
        for j, p in enumerate(parts):
            if run[0].block is not None:
                if any(_inside(n.span, p) for n in run):
                    if p.bracket is not None:
                        return [parts_text(e) for e in p.bracket.entries]
                    return [part_text(ast.Part(p.atoms, p.args, None, None, p.span))]
            elif (p.span.line, p.span.col) in spans:
                k = next((k for k in range(j + 1, len(parts))
                          if (parts[k].span.line, parts[k].span.col) in heads), len(parts))
                return [parts_text(parts[j:k])]
    return None


def _fallback(run: list[Node]) -> list[str]:
    """Labels from the layers themselves: the weighted layers of a block, else every one."""
    if len(run) == 1:
        return [layer_label(run[0])]
    main = [n for n in run if n.role == "main" and OPS.get(n.op) is not None and
            (OPS[n.op].weighted or OPS[n.op].base == "pool")]
    return [layer_label(n) for n in (main or run)]


__all__ = ["LEVELS", "Unit", "layer_label", "units"]
