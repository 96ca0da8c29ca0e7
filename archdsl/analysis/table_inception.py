"""GoogLeNet's Table 1 layout (Szegedy et al. 2015): one line per layer or inception module.

Columns: ``type | patch size/stride | output size | depth | #1×1 | #3×3 reduce | #3×3 |
#5×5 reduce | #5×5 | pool proj | params | ops``. The params and ops columns are archdsl's
counts (paper convention: conv and fc multiply-adds), printed in the paper's own units:
weights in K = 1024 (inception (3a): 163,696 → 159K, as printed), ops in M = 10⁶
(128,049,152 → 128M). :func:`paper_rows` says whether a network can be written this way
(every stage one such line); :func:`spec_lines` reads the lines back into spec text, which is
how :mod:`archdsl.analysis.table_read` round-trips the layout.
"""
from __future__ import annotations

from archdsl.builder.blocks_concat import INCEPTION_COLUMNS
from archdsl.ir.graph import Graph, dims_text
from archdsl.lang import syntax as ast

HEADER = ("type", "patch size/stride", "output size", "depth", *INCEPTION_COLUMNS,
          "params", "ops")
_QUIET = {"relu", "bn", "flatten"}   # printed by no line of the paper's table
# One-layer lines: the op, the paper's word for it, and the stage name the reader gives it.
_TYPES = {"maxpool": ("max pool", "pool"), "avgpool": ("avg pool", "avgpool"),
          "dropout": ("dropout", "dropout"), "fc": ("linear", "linear"),
          "softmax": ("softmax", "softmax"), "conv": ("convolution", "conv")}


def _patch(n) -> str:
    return f"{n['kernel'][0]}×{n['kernel'][1]}/{n['stride'][0]}"


def _size(shape) -> str:
    return "×".join(map(str, (*shape[1:], shape[0]))) if len(shape) == 3 else f"1×1×{shape[0]}"


def _figure(x: int, unit: int, suffix: str) -> str:
    """``x`` in ``unit``s as the paper prints it: 159K, 2.7K, 128M."""
    if not x:
        return ""
    v = x / unit
    return f"{v:.1f}{suffix}" if v < 10 else f"{round(v)}{suffix}"


def paper_rows(graph: Graph, spec: ast.Spec, env: dict, subst) -> list[list[str]] | None:
    """The table's lines for ``graph`` (parsed as ``spec``, parameters ``env``; ``subst``
    evaluates an atom in ``env``), or None when a stage is not one line of the layout
    (several layers, a ``with`` row…)."""
    from archdsl.analysis.count import count
    stages = [st for st in spec.statements if isinstance(st, ast.Stage)]
    counts = {r.name: r for r in count(graph, convention="paper").by("stage")}
    nodes = {s.name: [n for n in graph.nodes if n.stage == s.name] for s in graph.stages}
    if len(stages) != len(graph.stages) or not any(st.title for st in stages):
        return None
    rows = []
    for st, gs in zip(stages, graph.stages):
        if any(isinstance(item, ast.With) for item in st.body):
            return None
        ns = [n for n in nodes[gs.name] if n.block is None and n.op not in _QUIET]
        cols = [""] * len(INCEPTION_COLUMNS)
        parts = [p for item in st.body for p in item.parts]
        if len(parts) == 1 and parts[0].atoms and isinstance(parts[0].atoms[0], ast.Word) \
                and parts[0].atoms[0].text.lower() == "inception" and parts[0].args:
            if not st.title or ns:
                return None
            kind, patch, depth = st.title, "", "2"
            cols = [ast_num(subst(a.value, env)) for a in parts[0].args]
            if None in cols:
                return None
        elif len(ns) == 1 and ns[0].op in _TYPES and not st.title:
            n = ns[0]
            kind = _TYPES[n.op][0] + (f" ({n['p'] * 100:g}%)" if n.op == "dropout" else "")
            patch = _patch(n) if n.op in ("conv", "maxpool", "avgpool") else ""
            depth = "1" if n.op in ("conv", "fc") else "0"
        elif [n.op for n in ns] == ["conv", "conv"] and ns[0]["kernel"] == (1, 1) \
                and ns[1]["kernel"][0] in (3, 5) and not st.title:
            k = ns[1]["kernel"][0]
            kind, patch, depth = "convolution", _patch(ns[1]), "2"
            cols[INCEPTION_COLUMNS.index(f"#{k}×{k} reduce")] = str(ns[0]["out_channels"])
            cols[INCEPTION_COLUMNS.index(f"#{k}×{k}")] = str(ns[1]["out_channels"])
        else:
            return None
        c = counts[gs.name]
        rows.append([kind, patch, _size(nodes[gs.name][-1].shape), depth, *cols,
                     _figure(c.params, 1024, "K"), _figure(c.cost, 10 ** 6, "M")])
    return rows


def ast_num(a) -> str | None:
    return str(a.value) if isinstance(a, ast.Num) else None


def spec_lines(rows: list[list[str]]) -> list[str] | None:
    """Spec stages from the table's lines (the inverse of :func:`paper_rows`), or None when
    the lines are not this layout."""
    out, seen = [], {}
    for r in rows:
        r = (r + [""] * len(HEADER))[:len(HEADER)]
        kind, patch, size, _, *rest = r
        cols, hw = rest[:len(INCEPTION_COLUMNS)], "×".join(size.split("×")[:2])
        word = kind.split(" (")[0]
        if word.lower() == "inception":
            out.append(f"{kind} {hw}: inception({', '.join(cols)})")
            continue
        entry = next((v for v in _TYPES.values() if v[0] == word), None)
        if entry is None:
            return None
        seen[word] = seen.get(word, 0) + 1
        name = entry[1] + (str(seen[word]) if entry[1] in ("conv", "pool") else "")
        k, _, s = patch.partition("/")
        stride = f", stride {s}" if s and s != "1" or word == "avg pool" else ""
        channels = size.split("×")[-1]
        if word == "convolution" and any(cols):
            red = next(i for i, c in enumerate(cols) if c)
            body = f"1×1, {cols[red]}\n    {k}, {cols[red + 1]}"
        else:
            body = {"convolution": f"{k}, {channels}{stride}",
                    "max pool": f"{k} max pool{stride}", "avg pool": f"{k} average pool{stride}",
                    "linear": f"linear {channels}", "softmax": "softmax",
                    "dropout": f"dropout {_ratio(kind)}"}[word]
        out.append(f"{name} {hw}: {body}")
    return out


def _ratio(kind: str) -> str:
    """``dropout (40%)`` → ``0.4``."""
    pct = kind.partition("(")[2].rstrip("%)") or "50"
    return f"{float(pct) / 100:g}"


FOOTER = ("network", "input", "classes", "with")


def paper_grid(g: Graph, subst, settings_text) -> list[list[str]] | None:
    """The whole table for one network in this layout (header, lines, footer), or None when
    it cannot be written so, or would not read back as the same network. ``subst`` and
    ``settings_text`` are :mod:`archdsl.analysis.table`'s readers of the spec."""
    from archdsl.builder.build import build
    from archdsl.lang.parser import parse
    spec = parse(g.source, g.file)
    rows = paper_rows(g, spec, dict(g.params), subst)
    if rows is None or any(k != "classes" for k, _ in g.params):
        return None
    foot = {"network": g.name, "input": dims_text(g.input_shape), "classes": str(g.num_classes),
            "with": settings_text(spec, dict(g.params))}
    text = spec_text(rows, foot)
    if text is None or _key(build(parse(text, "<table>"))) != _key(g):
        return None
    width = len(HEADER)
    return [list(HEADER), *rows, *([k, foot[k]] + [""] * (width - 2) for k in FOOTER)]


def read(rows: list[list[str]]) -> str | None:
    """Spec text from a table in this layout as :func:`table_read._read_grid` splits it
    (header first), or None when it is not this layout."""
    if not rows or [c.strip() for c in rows[0][:len(HEADER)]] != list(HEADER):
        return None
    lines = [[c.strip() for c in r] for r in rows[1:] if any(c.strip() for c in r)]
    foot = {r[0]: r[1] for r in lines if r[0] in FOOTER}
    return spec_text([r for r in lines if r[0] not in FOOTER], foot)


def spec_text(rows: list[list[str]], foot: dict[str, str]) -> str | None:
    """Spec text from the table's lines and its footer (``network``, ``input``, …)."""
    lines = spec_lines(rows)
    if lines is None:
        return None
    head = [f"{k} {foot[k]}" for k in FOOTER if foot.get(k)]
    return "\n".join(head + lines) + "\n"


def _key(g: Graph):
    return (g.name, g.input_shape, g.num_classes, g.settings,
            tuple((s.name, s.declared, s.nodes) for s in g.stages),
            tuple((n.name, n.op, n.inputs, n.attrs, n.shape) for n in g.nodes))
