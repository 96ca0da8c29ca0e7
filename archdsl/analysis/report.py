"""Counts -> text: a boxed table for people (rich's look, drawn by :mod:`.boxtable`); JSON,
CSV and Markdown for scripts. No torch.

Every rendering names its convention, because "FLOPs" means three different things (see
:mod:`archdsl.analysis.count`): the boxed and Markdown tables print the convention's description
under the table, JSON carries ``convention`` and ``description``, CSV a ``convention`` column.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from archdsl.analysis.boxtable import box_table, console_lines
from archdsl.analysis.count import COLUMNS, Counts, Row, cost_label
from archdsl.ir.graph import dims_text

FORMATS = ("table", "json", "csv", "markdown")
LEVELS = ("layer", "block", "stage")


@dataclass(frozen=True, slots=True)
class SweepRow:
    """One member of a family: its parameter value, name, depth and counts."""
    value: Any
    network: str
    depth: int
    counts: Counts


def human(n: int) -> str:
    """A short engineering form: 3.86 G, 25.6 M, 12.3 K."""
    for div, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g} {unit}"
    return str(n)



def _header(counts: Counts) -> str:
    return (f"{counts.network}  input {counts.batch}×{dims_text(counts.input_shape)}  "
            f"convention {counts.convention}")


def _columns(counts: Counts, level: str) -> list[str]:
    cols = [level, "op"] if level == "layer" else [level]
    cols += ["output", "params"]
    cols += [] if counts.convention == "paper" else ["MACs"]
    cols += ["elementwise"] if counts.convention == "full" else []
    return cols + [cost_label(counts.convention), "%"]


def _cells(counts: Counts, r: Row, pct: float | str, level: str, fmt=lambda n: f"{n:,}") -> list[str]:
    cells = [r.name, r.op] if level == "layer" else [r.name]
    cells += [dims_text(r.shape), fmt(r.params)]
    cells += [] if counts.convention == "paper" else [fmt(r.macs)]
    cells += [fmt(r.elementwise)] if counts.convention == "full" else []
    return cells + [fmt(r.cost), pct if isinstance(pct, str) else f"{pct:.1f}"]


def render_table(counts: Counts, level: str = "stage", width: int | None = None) -> str:
    """The boxed table (paper stage names, output shape, params, MACs/FLOPs, %), as text:
    what rich prints, drawn without importing it when it can be (:mod:`.boxtable`)."""
    cols = _columns(counts, level)
    total = _cells(counts, counts.total, "100.0", level)
    total[0] = "total"
    if level == "layer":
        total[1] = ""
    rows = [_cells(counts, r, pct, level) for r, pct in zip(counts.by(level), counts.percent(level))]
    t = counts.total
    page = width or 200
    return (box_table(_header(counts), counts.description, cols,
                      [name not in (level, "op") for name in cols], rows, total, width=page)
            + console_lines(f"params {t.params:,} ({human(t.params)})   "
                            f"{cost_label(counts.convention)} {t.cost:,} ({human(t.cost)})   "
                            f"conv+fc MACs {t.macs:,} ({human(t.macs)})", page))


def json_row(r: Row) -> dict[str, Any]:
    """A row for ``report -f json``: ``flops`` is the FLOPs of the report's convention (the
    table's headline column), beside ``macs``, ``params``, the elementwise columns."""
    return {"name": r.name, "op": r.op, "stage": r.stage, "block": r.block,
            "output_shape": list(r.shape), "params": r.params, "macs": r.macs,
            "flops": r.cost, **{c: getattr(r, c) for c in COLUMNS}, "elementwise": r.elementwise}


LEVEL_LISTS = {"stage": ("stages",), "block": ("stages", "blocks"),
               "layer": ("stages", "blocks", "layers")}
"""The row lists ``report -f json --by LEVEL`` writes: down to that level."""


def json_dict(counts: Counts, level: str = "layer") -> dict[str, Any]:
    """``report -f json`` (docs/json.md): the convention it counts in, the total, and the rows
    down to ``level`` (stages; then blocks; then layers: ``"layer"`` gives everything)."""
    doc = {"network": counts.network, "convention": counts.convention,
           "description": counts.description, "input_shape": list(counts.input_shape),
           "batch": counts.batch, "total": json_row(counts.total)}
    for key in LEVEL_LISTS[level]:
        doc[key] = [json_row(r) for r in getattr(counts, key)]
    return doc


def render_json(counts: Counts, level: str = "stage") -> str:
    """:func:`json_dict` at ``level``, compact: no indentation, one row per line (ResNet-1202 at
    n = 2000, 42,009 layers, is ~15 MB this way rather than ~40 MB indented)."""
    doc = json_dict(counts, level)
    lists = {k: doc.pop(k) for k in LEVEL_LISTS[level]}
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    out = [json.dumps(doc, **compact)[:-1]]
    for key, rows in lists.items():
        out.append(f',"{key}":[\n' + ",\n".join(json.dumps(r, **compact) for r in rows) + "]")
    return "".join(out) + "}\n"


def render_csv(counts: Counts, level: str = "stage") -> str:
    """One CSV line per row at ``level`` plus a ``total`` line; every column, raw integers."""
    import csv
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    # `flops` is the convention's figure, as in the JSON and the table's headline column
    w.writerow(["network", "convention", "level", "name", "op", "stage", "block", "output",
                "params", "macs", "flops", *COLUMNS, "percent"])
    rows = list(zip(counts.by(level), counts.percent(level))) + [(counts.total, 100.0)]
    for r, pct in rows:
        lvl = "total" if r is counts.total else level
        w.writerow([counts.network, counts.convention, lvl, r.name, r.op, r.stage or "",
                    r.block or "", dims_text(r.shape), r.params, r.macs, r.cost,
                    *(getattr(r, c) for c in COLUMNS), f"{pct:.1f}"])
    return out.getvalue()


def render_markdown(counts: Counts, level: str = "stage") -> str:
    """A GitHub-flavoured Markdown table with a total line and the convention underneath."""
    cols = _columns(counts, level)
    lines = [f"**{_header(counts)}**", "", "| " + " | ".join(cols) + " |",
             "|" + "|".join("---" if c in (level, "op") else "---:" for c in cols) + "|"]
    for r, pct in zip(counts.by(level), counts.percent(level)):
        lines.append("| " + " | ".join(_cells(counts, r, pct, level)) + " |")
    total = _cells(counts, counts.total, "100.0", level)
    total[0] = "**total**"
    if level == "layer":
        total[1] = ""
    lines += ["| " + " | ".join(total) + " |", "", f"_{counts.description}_", ""]
    return "\n".join(lines)


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv,
             "markdown": render_markdown}


def render(counts: Counts, fmt: str = "table", level: str = "stage") -> str:
    """Render ``counts`` in ``fmt`` (one of :data:`FORMATS`) at ``level`` (layer/block/stage)."""
    return RENDERERS[fmt](counts, level)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, (tuple, list)) else v


def _text(v: Any) -> str:
    """A swept value as written on the command line: ``9``, ``3,4,6,3``."""
    return ",".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)


def render_sweep(key: str, rows: list[SweepRow], fmt: str = "table") -> str:
    """One line per family member: the parameter, name, depth, params and headline figure."""
    conv = rows[0].counts.convention
    label = cost_label(conv)
    if fmt == "json":
        return json.dumps({"parameter": key, "convention": conv,
                           "description": rows[0].counts.description,
                           "members": [{"value": _plain(r.value), "network": r.network,
                                        "depth": r.depth, "params": r.counts.total.params,
                                        "macs": r.counts.total.macs,
                                        "flops": r.counts.total.cost} for r in rows]}, indent=2)
    cols = [key, "network", "depth", "params", "params (M)", label]
    body = [[_text(r.value), r.network, str(r.depth), f"{r.counts.total.params:,}",
             f"{r.counts.total.params / 1e6:.2f}", f"{r.counts.total.cost:,}"] for r in rows]
    if fmt == "csv":
        import csv
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow([key, "network", "depth", "params", "macs", "flops", "convention"])
        for r in rows:
            t = r.counts.total
            w.writerow([_text(r.value), r.network, r.depth, t.params, t.macs, t.cost, conv])
        return out.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---:"] * len(cols)) + "|"]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines + ["", f"_{rows[0].counts.description}_", ""])
    return box_table(f"sweep {key}", rows[0].counts.description, cols,
                     [c != "network" for c in cols], body)
