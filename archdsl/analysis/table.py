"""IR -> paper-style architecture tables (ResNet Table 1, VGG Table 1).

:func:`render_table` prints one column per network: ``layer name | output size | <net>…``,
one table line per spec row, block calls expanded to bracketed blocks with literal
repeats (``[1×1, 64; 3×3, 64; 1×1, 256] ×3``), then the papers' FLOPs (multiply-adds,
paper convention) and params rows, then the rows that make the table self-contained:
``input``, ``classes``, ``with`` (network-wide settings) and ``param`` (family values).

The description cells use the spec language's own row syntax, so
:func:`archdsl.analysis.table_read.parse_table` can read the table back into the same IR.
"""
from __future__ import annotations

import difflib
import re

from archdsl.lang import syntax as ast
from archdsl.errors import ArchError, Span
from archdsl.lang.fmt import parts_text, stage_label
from archdsl.lang.syntax import atom_text
from archdsl.ir.graph import Graph, dims_text
from archdsl.lang.parser import parse
from archdsl.analysis.table_inception import paper_grid

FORMATS = ("text", "markdown", "latex")
LAYOUTS = ("auto", "stages", "inception")
_FOOTER = ("FLOPs", "params", "input", "classes", "with", "param")
#: What the FLOPs row counts, in its size cell: the papers' "FLOPs" are multiply-adds.
FLOPS_NOTE = "multiply-adds"
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


# ---- IR -> rows -----------------------------------------------------------------------
def _subst(a: ast.Atom, env: dict):
    """Replace parameter references by their values; evaluate products."""
    if isinstance(a, ast.Word) and a.text in env and isinstance(env[a.text], (int, float)):
        v = env[a.text]
        return ast.Num(v, str(v), a.span)
    if isinstance(a, ast.Index) and a.name in env:
        v = env[a.name][a.index]
        return ast.Num(v, str(v), a.span)
    if isinstance(a, ast.Product):
        fs = [_subst(f, env) for f in a.factors]
        if all(isinstance(f, ast.Num) for f in fs):
            v = 1
            for f in fs:
                v *= f.value
            return ast.Num(v, str(v), a.span)
        return ast.Product(tuple(fs), a.span, a.sep)
    return a


def _expand_part(p: ast.Part, env: dict, blocks: dict) -> ast.Part:
    rep = _subst(p.repeat, env) if p.repeat is not None else None
    if p.bracket is not None:
        return ast.Part((), None, _expand_bracket(p.bracket, env, blocks), rep, p.span)
    if len(p.atoms) == 1 and isinstance(p.atoms[0], ast.Word) and p.atoms[0].text in blocks:
        bd = blocks[p.atoms[0].text]
        args = [_subst(a.value, env) for a in (p.args or ())]
        inner = dict(env)
        for name, value in zip(bd.params, args):
            if isinstance(value, ast.Num):
                inner[name] = value.value
        return ast.Part((), None, _expand_bracket(bd.body, inner, blocks), rep, p.span)
    args = None if p.args is None else tuple(ast.Arg(a.name, _subst(a.value, env), a.span)
                                             for a in p.args)
    return ast.Part(tuple(_subst(a, env) for a in p.atoms), args, None, rep, p.span)


def _expand_bracket(b: ast.Bracket, env: dict, blocks: dict) -> ast.Bracket:
    return ast.Bracket(tuple(tuple(_expand_part(p, env, blocks) for p in e) for e in b.entries), b.span)


def _spec_of(g: Graph) -> tuple[ast.Spec, dict, dict]:
    """``g``'s spec re-parsed, its parameter values and its named blocks: what a table cell
    is written from."""
    if not g.source.strip():
        raise ArchError(f"network '{g.name}' carries no spec text to tabulate",
                        Span(g.file, 1, 1), hint="load it from its .arch spec")
    spec = parse(g.source, g.file)
    blocks = {st.name: st for st in spec.statements if isinstance(st, ast.BlockDef)}
    return spec, dict(g.params), blocks


def _column(g: Graph) -> tuple[list[tuple[str, str, list[str]]], dict[str, list[str]]]:
    """One network as ``[(stage name, size, [rows])]`` plus its footer cells."""
    spec, env, blocks = _spec_of(g)
    stages, withs = [], [_column_settings(spec, env)]
    for st in spec.statements:
        if isinstance(st, ast.Stage):
            rows = []
            for item in st.body:
                parts = [_expand_part(p, env, blocks) for p in item.parts]
                if isinstance(item, ast.With):
                    rows.append(["with " + parts_text(parts)])
                elif len(parts) == 1 and parts[0].bracket is not None:
                    rows.append(_stack(parts[0]))
                else:
                    rows.append([parts_text(parts)])
            stages.append((stage_label(st), atom_text(st.size) if st.size else "", rows))
    from archdsl.analysis.count import count
    total = count(g, convention="paper").total
    footer = {"FLOPs": [_sci(total.macs)], "params": [_sci(total.params)],
              "input": [dims_text(g.input_shape)], "classes": [str(g.num_classes)],
              "with": withs,
              "param": [f"{k} = {_pv(v)}" for k, v in g.params if k != "classes"]}
    return stages, footer


def _column_settings(spec: ast.Spec, env: dict) -> str:
    """The network-wide ``with`` lines of ``spec`` as one list of settings."""
    blocks = {st.name: st for st in spec.statements if isinstance(st, ast.BlockDef)}
    return ", ".join(parts_text(_expand_part(p, env, blocks) for p in st.parts)
                     for st in spec.statements if isinstance(st, ast.With))


def _stack(p: ast.Part) -> list[str]:
    """A bracket part as the papers print it: one entry per line, ``×N`` after the last."""
    lines = [parts_text(e) for e in p.bracket.entries]
    lines = ["[" + lines[0]] + [" " + l for l in lines[1:]]
    lines[-1] += "]" + (" ×" + atom_text(p.repeat) if p.repeat is not None else "")
    return lines


def _pv(v) -> str:
    return "[" + ", ".join(map(str, v)) + "]" if isinstance(v, (tuple, list)) else str(v)


def _sci(x: int) -> str:
    """``1814073344`` → ``1.8×10⁹``, ``11689512`` → ``11.7×10⁶``, as the papers print them."""
    if x < 1000:
        return str(x)
    e = (len(str(int(x))) - 1) // 3 * 3
    return f"{x / 10 ** e:.1f}×10{str(e).translate(_SUP)}"


def _grid(graphs: list[Graph], stacked: bool = False) -> list[list[str]]:
    """The table as a list of lines of cells: name, size, one description per network.
    ``stacked`` prints bracketed blocks over several lines, one layer each."""
    if not graphs:
        raise ArchError("a table needs at least one network", Span("<table>", 1, 1))
    cols = [_column(g) for g in graphs]
    order: list[tuple[str, str]] = []
    for stages, _ in cols:           # merge stage keys, keeping every column's order
        keys = [(n, s) for n, s, _ in stages]
        sm = difflib.SequenceMatcher(a=order, b=keys, autojunk=False)
        merged: list = []
        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            merged += order[i1:i2] + ([] if tag == "equal" else keys[j1:j2])
        order = merged
    grid = [["layer name", "output size"] + [g.name for g in graphs]]
    for key in order:
        cells = [next((rows for n, s, rows in stages if (n, s) == key), []) for stages, _ in cols]
        for i in range(max(1, max(len(c) for c in cells))):
            lines = [(c[i] if stacked else ["; ".join(l.strip() for l in c[i])])
                     if i < len(c) else [] for c in cells]
            for k in range(max(1, max(len(l) for l in lines))):
                grid.append(([key[0], key[1]] if i == k == 0 else ["", ""]) +
                            [l[k] if k < len(l) else "" for l in lines])
    for label in _FOOTER:
        cells = [footer[label] for _, footer in cols]
        if not any(any(c) for c in cells):
            continue
        for i in range(max(1, max(len(c) for c in cells))):
            note = FLOPS_NOTE if label == "FLOPs" and i == 0 else ""
            grid.append([label, note] + [c[i] if i < len(c) else "" for c in cells])
    return grid


# ---- rows -> text ---------------------------------------------------------------------
def render_table(graphs: Graph | list[Graph], format: str = "text", stacked: bool = False,
                 layout: str = "auto", width: int | None = None) -> str:
    """A paper-style table of one or several networks (one description column each).

    ``layout``: ``"stages"`` (ResNet's Table 1: a description column per network),
    ``"inception"`` (GoogLeNet's Table 1, one network:
    :mod:`archdsl.analysis.table_inception`) or ``"auto"``: the inception layout for one
    network written one layer or inception module per stage, else the stages layout.

    ``format`` is ``"text"`` (aligned, ``|``-separated), ``"markdown"`` or ``"latex"``;
    ``stacked`` prints each bracketed block over several lines as the papers do (otherwise
    ``[3×3, 64; 3×3, 64] ×2`` on one line).
    The output round-trips through :func:`archdsl.analysis.table_read.parse_table`.
    ``width`` (text, stages layout; the CLI passes the terminal's) splits a table wider than that
    into several tables of fewer networks each, and stacks the brackets of a network too
    wide on its own; a split table is for reading, not for ``parse_table``.
    """
    if isinstance(graphs, Graph):
        graphs = [graphs]
    if format not in FORMATS:
        raise ArchError(f"unknown table format '{format}'", Span("<table>", 1, 1),
                        hint=f"choose one of {', '.join(FORMATS)}")
    if layout not in LAYOUTS:
        raise ArchError(f"unknown table layout '{layout}'", Span("<table>", 1, 1),
                        hint=f"choose one of {', '.join(LAYOUTS)}")
    grid = None
    if layout != "stages" and len(graphs) == 1:
        grid = paper_grid(graphs[0], _subst, _column_settings)
    if grid is None and layout == "inception":
        raise ArchError(f"network '{graphs[0].name}' cannot be written in GoogLeNet's table "
                        "layout" if len(graphs) == 1 else "GoogLeNet's table layout shows one "
                        "network", Span(graphs[0].file, 1, 1),
                        hint="it needs one stage per layer or inception module, as in "
                             "specs/googlenet-paper.arch; use the stages layout")
    paper, grid = grid is not None, grid or _grid(list(graphs), stacked)
    if format == "text":
        if paper or width is None or _width(_text(grid)) <= width:
            return _text(grid, paper)
        return _fit(list(graphs), grid, stacked, width)
    if format == "markdown":
        out = ["| " + " | ".join(grid[0]) + " |", "|" + "|".join(["---", "---:"] + ["---"] * (len(grid[0]) - 2)) + "|"]
        merged: list[list[str]] = []
        for r in grid[1:]:           # one markdown row per stage; lines joined with <br>
            if merged and not r[0] and not r[1]:
                merged[-1] = [f"{a}<br>{b}" if i > 1 else a
                              for i, (a, b) in enumerate(zip(merged[-1], r))]
            else:
                merged.append(list(r))
        out += ["| " + " | ".join(r) + " |" for r in merged]
        return "\n".join(out) + "\n"
    spec = "l r " + " ".join("l" for _ in grid[0][2:])
    out = [r"\begin{tabular}{" + spec + "}", r"\hline"]
    out.append(" & ".join(_tex(c) for c in grid[0]) + r" \\")
    out.append(r"\hline")
    for r in grid[1:]:
        if (r[0] or r[1]) and r[0] not in _FOOTER[1:] and out[-1] != r"\hline":
            out.append(r"\hline")
        out.append(" & ".join(_tex(c) for c in r) + r" \\")
    out += [r"\hline", r"\end{tabular}"] if out[-1] != r"\hline" else [r"\end{tabular}"]
    return "\n".join(out) + "\n"


def table_dict(graphs: Graph | list[Graph]) -> dict:
    """``table -f json`` (docs/json.md): the table's lines as cells, then each network's
    figures as numbers (``flops`` in the paper convention: multiply-adds, as the row says)."""
    from archdsl.analysis.count import count
    graphs = [graphs] if isinstance(graphs, Graph) else list(graphs)
    grid = _grid(graphs)
    totals = [count(g, convention="paper").total for g in graphs]
    return {"networks": [g.name for g in graphs], "convention": "paper",
            "rows": [{"layer": r[0], "output_size": r[1], "cells": r[2:]} for r in grid[1:]
                     if r[0] not in ("FLOPs", "params") or r[1] not in ("", FLOPS_NOTE)],
            "totals": [{"network": g.name, "params": t.params, "macs": t.macs, "flops": t.cost}
                       for g, t in zip(graphs, totals)]}


def _text(grid: list[list[str]], paper: bool = False) -> str:
    """The aligned, ``|``-separated text form, a rule between stages (``paper``: GoogLeNet's
    layout, ruled only above its footer)."""
    widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
    def line(r):
        return " | ".join((c.rjust(w) if i == 1 else c.ljust(w)) for i, (c, w) in
                          enumerate(zip(r, widths))).rstrip()
    rule = "-+-".join("-" * w for w in widths)
    body = [line(grid[0]), rule]
    for r in grid[1:]:
        ruled = r[0] == "network" if paper else (r[0] or r[1]) and r[0] not in _FOOTER[1:]
        if ruled and body[-1] != rule:
            body.append(rule)
        body.append(line(r))
    return "\n".join(body) + "\n"


def _width(text: str) -> int:
    return max(map(len, text.splitlines()))


def _fit(graphs: list[Graph], grid: list[list[str]], stacked: bool, width: int) -> str:
    """Tables of as many consecutive networks as fit in ``width`` columns, one after another;
    a network too wide alone is printed stacked (one layer of a bracket per line)."""
    def wide(gs: list[Graph], stack: bool) -> int:
        return _width(_text(_grid(gs, stack)))
    groups: list[list[Graph]] = []
    for g in graphs:
        if groups and wide(groups[-1] + [g], stacked) <= width:
            groups[-1].append(g)
        else:
            groups.append([g])
    return "\n".join(_text(_grid(gs, stacked or wide(gs, stacked) > width)) for gs in groups)


def _tex(s: str) -> str:
    s = s.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("#", r"\#")
    s = s.replace("&", r"\&").replace("%", r"\%")
    s = re.sub(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", lambda m: "10$^{" + m.group(1).translate(_UNSUP) + "}$", s)
    return s.replace("×", r"$\times$")


_UNSUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


# ---- the table's cells, for diagrams ----------------------------------------------------
def stage_rows(g: Graph) -> list[list[tuple[str, list[ast.Part]]]]:
    """Per stage of ``g``'s spec (in order): its rows as the table prints them in that stage's
    cell, each ``(prefix, parts)``: the prefix is ``"with "`` for a settings row, else empty;
    parameters are substituted and block calls expanded to brackets (the parts keep their
    spans). :mod:`archdsl.analysis.notation` labels diagram boxes with them."""
    spec, env, blocks = _spec_of(g)
    return [[("with " if isinstance(item, ast.With) else "",
              [_expand_part(p, env, blocks) for p in item.parts]) for item in st.body]
            for st in spec.statements if isinstance(st, ast.Stage)]
