"""IR <-> paper-style architecture tables (ResNet Table 1, VGG Table 1).

:func:`render_table` prints one column per network: ``layer name | output size | <net>…``,
one table line per spec row, block calls expanded to bracketed blocks with literal
repeats (``[1×1, 64; 3×3, 64; 1×1, 256] ×3``), then the papers' FLOPs (multiply-adds,
paper convention) and params rows, then the rows that make the table self-contained:
``input``, ``classes``, ``with`` (network-wide settings) and ``param`` (family values).

The description cells use the spec language's own row syntax, so :func:`parse_table`
rebuilds spec text from a table and builds it with :func:`archdsl.load`: the round trip
spec → table → parse gives the same IR. It also reads hand-transcribed paper tables:
a line with one description cell spans every column (as the papers' merged cells do),
brackets may run over several lines, and settings the paper states in prose are passed
as ``defaults``.
"""
from __future__ import annotations

import difflib
import re

from . import syntax as ast
from .errors import ArchError, Span
from .fmt import atom_text, parts_text
from .ir import Graph
from .parser import parse

FORMATS = ("text", "markdown", "latex")
_FOOTER = ("FLOPs", "params", "input", "classes", "with", "param")
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
        return ast.Product(tuple(fs), a.span)
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


def _column(g: Graph) -> tuple[list[tuple[str, str, list[str]]], dict[str, list[str]]]:
    """One network as ``[(stage name, size, [rows])]`` plus its footer cells."""
    if not g.source.strip():
        raise ArchError(f"network '{g.name}' carries no spec text to tabulate",
                        Span(g.file, 1, 1), hint="load it from its .arch spec")
    spec = parse(g.source, g.file)
    env = dict(g.params)
    blocks = {st.name: st for st in spec.statements if isinstance(st, ast.BlockDef)}
    stages, withs = [], []
    for st in spec.statements:
        if isinstance(st, ast.With):
            withs.append(parts_text(_expand_part(p, env, blocks) for p in st.parts))
        elif isinstance(st, ast.Stage):
            rows = []
            for item in st.body:
                parts = [_expand_part(p, env, blocks) for p in item.parts]
                if isinstance(item, ast.With):
                    rows.append(["with " + parts_text(parts)])
                elif len(parts) == 1 and parts[0].bracket is not None:
                    rows.append(_stack(parts[0]))
                else:
                    rows.append([parts_text(parts)])
            stages.append((st.name.text if st.name else "", atom_text(st.size) if st.size else "", rows))
    from .count import count
    total = count(g, convention="paper").total
    footer = {"FLOPs": [_sci(total.macs)], "params": [_sci(total.params)],
              "input": ["×".join(map(str, g.input_shape))], "classes": [str(g.num_classes)],
              "with": [", ".join(withs)],
              "param": [f"{k} = {_pv(v)}" for k, v in g.params if k != "classes"]}
    return stages, footer


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
            grid.append([label, ""] + [c[i] if i < len(c) else "" for c in cells])
    return grid


# ---- rows -> text ---------------------------------------------------------------------
def render_table(graphs: Graph | list[Graph], format: str = "text", stacked: bool = False) -> str:
    """A paper-style table of one or several networks (one description column each).

    ``format`` is ``"text"`` (aligned, ``|``-separated), ``"markdown"`` or ``"latex"``;
    ``stacked`` prints each bracketed block over several lines as the papers do (otherwise
    ``[3×3, 64; 3×3, 64] ×2`` on one line).
    The output round-trips through :func:`parse_table`.
    """
    if isinstance(graphs, Graph):
        graphs = [graphs]
    if format not in FORMATS:
        raise ArchError(f"unknown table format '{format}'", Span("<table>", 1, 1),
                        hint=f"choose one of {', '.join(FORMATS)}")
    grid = _grid(list(graphs), stacked)
    if format == "text":
        widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
        def line(r):
            return " | ".join((c.rjust(w) if i == 1 else c.ljust(w)) for i, (c, w) in
                              enumerate(zip(r, widths))).rstrip()
        rule = "-+-".join("-" * w for w in widths)
        body = [line(grid[0]), rule]
        for r in grid[1:]:
            if ((r[0] or r[1]) and r[0] not in _FOOTER[1:]) and body[-1] != rule:
                body.append(rule)
            body.append(line(r))
        return "\n".join(body) + "\n"
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


def _tex(s: str) -> str:
    s = s.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("#", r"\#")
    s = s.replace("&", r"\&").replace("%", r"\%")
    s = re.sub(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", lambda m: "10$^{" + m.group(1).translate(_UNSUP) + "}$", s)
    return s.replace("×", r"$\times$")


_UNSUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def _untex(s: str) -> str:
    s = s.replace(r"$\times$", "×").replace(r"\times", "×")
    s = re.sub(r"\$\^\{([-0-9]+)\}\$", lambda m: m.group(1).translate(_SUP), s)
    s = s.replace(r"\_", "_").replace(r"\#", "#").replace(r"\&", "&").replace(r"\%", "%")
    return s.replace(r"\textbackslash{}", "\\").strip()


# ---- text -> rows ---------------------------------------------------------------------
def _read_grid(text: str) -> list[list[str]]:
    """Split any of the three formats into lines of cells (markdown <br> → separate lines)."""
    rows: list[list[str]] = []
    if r"\begin{tabular}" in text:
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("\\begin", "\\end", "\\hline", "\\toprule",
                                            "\\midrule", "\\bottomrule", "%")):
                continue
            line = re.sub(r"\\\\\s*(\\hline)?\s*$", "", line)
            rows.append([_untex(c) for c in re.split(r"(?<!\\)&", line)])
        return rows
    md = next((l for l in text.splitlines() if l.strip()), "").lstrip().startswith("|")
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or re.fullmatch(r"[|:+\- ]+", s):
            continue
        if md:
            s = s.strip("|")
            cells = [c.strip() for c in s.split("|")]
            parts = [c.split("<br>") for c in cells]
            for i in range(max(len(p) for p in parts)):
                rows.append([p[i].strip() if i < len(p) else "" for p in parts] if i else
                            [p[0].strip() for p in parts])
                if i:
                    rows[-1][0] = rows[-1][1] = ""
        else:
            rows.append([c.strip() for c in line.split("|")])
    return rows


_FIGURE = re.compile(r"[\d.,]+(?:\s*×\s*10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)?\s*[KMGT]?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*$")
_KEYWORDS = ("network", "input", "classes", "param", "alias", "with", "block")


def parse_table(text: str, defaults: str | None = None) -> list[Graph]:
    """Read a table made by :func:`render_table` (any format) or transcribed from a paper.

    Returns one :class:`Graph` per description column. ``defaults`` supplies what the
    table does not state: spec lines (``"input 3×224×224\\nwith shortcut B"``) or a bare
    list of settings (``"shortcut B, batchnorm"``, taken as a ``with`` line); a statement
    the table itself states (``input``, ``classes``, ``with``) wins over the default.
    """
    from .api import load
    rows = _read_grid(text)
    while rows and len(rows[0]) < 2:     # a title line above the header ("ConvNet Configuration")
        rows = rows[1:]
    if not rows:
        raise ArchError("not an architecture table: expected a header 'layer name | output "
                        "size | network…' or one network name per column", Span("<table>", 1, 1))
    if rows[0][0].strip().lower() != "layer name":
        return [load(t) for t in _flat_specs(rows, defaults)]
    header, rows = rows[0], rows[1:]
    names = [_netname(h, i) for i, h in enumerate(header[2:])]
    ncol = len(names)
    specs = [{"stages": [], "footer": {}} for _ in range(ncol)]
    open_cells = [False] * ncol
    # The footer is the trailing run of FLOPs/params/input/… lines, so a stage that happens
    # to be called "input" or "with" further up is still a stage.
    # (input/classes/with/param are keywords, so only FLOPs/params need their numbers).
    foot_at = len(rows)
    for i in range(len(rows) - 1, -1, -1):
        label, size = (rows[i] + ["", ""])[:2]
        if size or label not in _FOOTER or (label in ("FLOPs", "params") and not all(
                _FIGURE.fullmatch(c) for c in rows[i][2:] if c)):
            break
        foot_at = i
    for i, r in enumerate(rows):
        spans = ncol > 1 and len(r) == 3 and not any(open_cells)
        r = r + [""] * (2 + ncol - len(r))
        label, size = r[0], r[1]
        descs = [r[2]] * ncol if spans else r[2:2 + ncol]   # 3 cells: one spans every column
        if i >= foot_at:
            for s, d in zip(specs, descs):
                if d or label == "with":
                    s["footer"].setdefault(label, []).append(d)
            continue
        for j, (s, d) in enumerate(zip(specs, descs)):
            if (label or size) and not open_cells[j]:
                s["absent"] = not d    # this network has no such stage (mixed families)
                if d:
                    s["stages"].append([label, size, []])
            elif not s["stages"]:
                s["stages"].append(["", "", []])
            if not d or s.get("absent"):
                continue
            rows_j = s["stages"][-1][2]
            if open_cells[j]:
                rows_j[-1] += "\n" + d
            else:
                rows_j.append(d)
            depth = rows_j[-1].count("[") - rows_j[-1].count("]")
            open_cells[j] = depth > 0
    return [load(_spec_text(name, s, defaults)) for name, s in zip(names, specs)]


def _netname(h: str, i: int) -> str:
    h = h.strip()
    if _NAME.match(h):
        return h
    h = re.sub(r"[^A-Za-z0-9_]+", "-", h).strip("-")
    return h if _NAME.match(h or "-") else f"net-{h or i + 1}"


def _spec_text(name: str, s: dict, defaults: str | None) -> str:
    foot = s["footer"]
    lines = [f"network {name}"]
    if foot.get("input"):
        lines.append("input " + foot["input"][0])
    if foot.get("classes"):
        lines.append("classes " + foot["classes"][0])
    for p in foot.get("param", ()):
        if p:
            lines.append("param " + p)
    if foot.get("with") and foot["with"][0]:
        lines.append("with " + foot["with"][0])
    if defaults:
        d = defaults.strip()
        dl = d.splitlines() if d.split()[0].lower() in _KEYWORDS else ["with " + d]
        have = {l.split()[0] for l in lines}
        lines = lines[:1] + [l for l in dl if l.split()[0].lower() not in have] + lines[1:]
    for label, size, rows in s["stages"]:
        head = " ".join(x for x in (label, size) if x)
        if head:
            lines.append(head + ":")
        lines += ["    " + r.replace("\n", "\n     ") for r in rows]
    return "\n".join(lines) + "\n"


_INPUT = re.compile(r"input\s*\((\d+)\s*[×xX]\s*(\d+)\s*(RGB|grey|gray)?[^)]*\)", re.I)


def _flat_specs(rows: list[list[str]], defaults: str | None) -> list[str]:
    """VGG Table 1 layout: a column per network, one layer per line, no name/size columns.

    Lines with one cell span every column; ``N weight layers`` lines are captions; an
    ``input (224 × 224 RGB image)`` line gives the input; every ``maxpool`` opens a new stage
    (conv1, conv2, …; the one holding the FC layers is ``fc``), and a ``flatten`` goes before
    the first FC layer, as the paper's prose implies.
    """
    header, rows = rows[0], rows[1:]
    names = [_netname(h, i) for i, h in enumerate(header)]
    ncol = len(names)
    layers: list[list[str]] = [[] for _ in names]
    extra: list[str] = []
    for r in rows:
        cells = [r[0]] * ncol if len(r) == 1 else (r + [""] * ncol)[:ncol]
        if all(re.fullmatch(r"\d+\s+weight\s+layers", c, re.I) or not c for c in cells):
            continue
        m = _INPUT.fullmatch(cells[0])
        if m and len(r) == 1:
            extra = [f"input {1 if (m.group(3) or '').lower() in ('grey', 'gray') else 3}"
                     f"×{m.group(1)}×{m.group(2)}"]
            continue
        for j, c in enumerate(cells):
            if c:
                layers[j].append(c)
    specs = []
    for name, ls in zip(names, layers):
        foot = {"input": [extra[0][6:]]} if extra else {}
        stages: list[list] = [["conv1", "", []]]
        flat = False
        for layer in ls:
            word = layer.split(",")[0].strip().lower()
            if word in ("maxpool", "max pool", "max-pool") and stages[-1][2]:
                stages.append([f"conv{len(stages) + 1}", "", []])
            if word.startswith("fc") and not flat:
                stages[-1][0] = "fc"
                stages[-1][2].append("flatten")
                flat = True
            stages[-1][2].append(layer)
        specs.append(_spec_text(name, {"stages": stages, "footer": foot}, defaults))
    return specs
