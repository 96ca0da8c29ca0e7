"""Paper-style architecture tables -> IR: the reader for :mod:`archdsl.analysis.table`.

The description cells use the spec language's own row syntax, so :func:`parse_table`
rebuilds spec text from a table and builds it with :func:`archdsl.load`: the round trip
spec → table → parse gives the same IR. It reads all three formats that
:func:`archdsl.analysis.table.render_table` writes (text, markdown, latex), and also
hand-transcribed paper tables: a line with one description cell spans every column (as
the papers' merged cells do), brackets may run over several lines, and settings the
paper states in prose are passed as ``defaults``.
"""
from __future__ import annotations

import re

from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Graph
from archdsl.analysis.table import _FOOTER, _SUP   # the renderer's footer labels and superscripts, read back


# ---- text -> rows ---------------------------------------------------------------------
def _untex(s: str) -> str:
    s = s.replace(r"$\times$", "×").replace(r"\times", "×")
    s = re.sub(r"\$\^\{([-0-9]+)\}\$", lambda m: m.group(1).translate(_SUP), s)
    s = s.replace(r"\_", "_").replace(r"\#", "#").replace(r"\&", "&").replace(r"\%", "%")
    return s.replace(r"\textbackslash{}", "\\").strip()


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
    from archdsl.api import load
    rows = _read_grid(text)
    while rows and len(rows[0]) < 2:     # a title line above the header ("ConvNet Configuration")
        rows = rows[1:]
    if not rows:
        raise ArchError("not an architecture table: expected a header 'layer name | output "
                        "size | network…' or one network name per column", Span("<table>", 1, 1))
    from archdsl.analysis.table_inception import read as read_inception
    if (text := read_inception(rows)) is not None:   # GoogLeNet's Table 1 layout
        return [load(text)]
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
