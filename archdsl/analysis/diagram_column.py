"""One network of a diagram laid out: boxes, stage labels, edges and shortcut arcs as SVG.

:class:`Column` turns a graph's units (:mod:`archdsl.analysis.notation`) into layout items
(:mod:`archdsl.analysis.layout`), places them at a horizontal offset, and writes its pieces
as SVG elements; :func:`archdsl.analysis.diagram.render_svg` stacks the columns side by side.
"""
from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from archdsl.analysis.count import Row, count
from archdsl.analysis.layout import Item, Placed, layout
from archdsl.analysis.notation import Unit, units
from archdsl.ir.graph import Graph, dims_text
from archdsl.ir.ops import OPS

FONT, SMALL, LINE = 11, 9, 13            # px: label, thin-box label, line pitch
MARGIN, HEAD = 76, 56                    # stage-label margin, heading height
STAGE_COLOURS = 8


@dataclass(frozen=True, slots=True)
class Shortcut:
    """A residual shortcut: from ``branch`` (a node name, or ``"input"``) through the
    shortcut layers ``chain`` (none: identity) into the ``add`` node."""
    branch: str
    chain: tuple[str, ...]
    add: str
    kind: str      # identity | projection | zero-pad


def shortcuts(g: Graph) -> list[Shortcut]:
    """Every residual shortcut of ``g``: one per ``add`` node. Its shortcut input is the one
    made by shortcut-role layers, else the earlier one (the skip)."""
    index = {n.name: i for i, n in enumerate(g.nodes)}
    by_name = {n.name: n for n in g.nodes}
    out = []
    for n in g.nodes:
        if n.op != "add" or len(n.inputs) < 2:
            continue
        tagged = [i for i in n.inputs if i in by_name and by_name[i].role == "shortcut"]
        src = tagged[0] if tagged else min(n.inputs, key=lambda i: index.get(i, -1))
        chain: list[str] = []
        while src in by_name and by_name[src].role == "shortcut":
            chain.insert(0, src)
            src = by_name[src].inputs[0]
        ops = {by_name[c].op for c in chain}
        kind = "identity" if not chain else "zero-pad" if "pad_shortcut" in ops else "projection"
        out.append(Shortcut(src, tuple(chain), n.name, kind))
    return out


def _text_w(s: str, size: int) -> float:
    return len(s) * size * 0.6


def _is_major(u: Unit) -> bool:
    """Thin boxes for the layers the papers leave out of their figures (BN, activations,
    dropout…): only weighted layers, pools, joins and multi-layer units are drawn full size."""
    if len(u.nodes) > 1:
        return True
    spec = OPS.get(u.nodes[0].op)
    return spec is None or spec.weighted or spec.base == "pool" or spec.inputs > 1


def _is_join_glyph(u: Unit) -> bool:
    return len(u.nodes) == 1 and u.lines[0] in ("+", "×")


def _short(x: int) -> str:
    """``21797672`` → ``21.8M``, ``3663761408`` → ``3.66G``: three significant digits."""
    for unit, scale in (("G", 10 ** 9), ("M", 10 ** 6), ("k", 10 ** 3)):
        if x >= scale:
            v = x / scale
            text = f"{v:.3g}"
            return (f"{v:,.0f}" if "e" in text else text) + unit     # 999,999 → 1000k
    return str(x)


def _towers(u: Unit, b: Placed) -> str:
    """A grouped conv (AlexNet's two GPUs, ResNeXt's cardinality) as a stack of boxes: one
    offset outline behind the box per further group, at most two; depthwise convs, whose
    groups are their channels, are labelled ``dw`` instead."""
    if len(u.nodes) != 1 or u.nodes[0].op != "conv":
        return ""
    n = u.nodes[0]
    g = n["groups"]
    if g < 2 or g == n["in_channels"] == n["out_channels"]:
        return ""
    return "".join(f'<path class="tower" d="M{b.left + 3 * k:.0f},{b.y - 3 * k + 3:.0f}'
                   f'V{b.y - 3 * k:.0f}H{b.right + 3 * k:.0f}V{b.bottom - 3 * k:.0f}'
                   f'H{b.right + 3 * k - 3:.0f}"/>' for k in range(min(g, 3) - 1, 0, -1))


def _sum(rows: list[Row]) -> tuple[int, int, int]:
    return (sum(r.params for r in rows), sum(r.macs for r in rows), sum(r.cost for r in rows))


class Column:
    """One network laid out: units, placed boxes, arcs and edges, at horizontal offset x0."""

    def __init__(self, g: Graph, level: str, convention: str, x0: float, y0: float):
        self.g, self.level, self.x0, self.y0 = g, level, x0, y0
        self.counts = count(g, convention=convention)
        self.units = units(g, level)
        self.unit_of = {n.name: k for k, u in enumerate(self.units) for n in u.nodes}
        self.cuts = shortcuts(g) if level != "stage" else []
        skip = set()                       # node edges the shortcut arcs draw
        for s in self.cuts:
            path = [s.branch, *s.chain, s.add]
            skip.update(zip(path, path[1:]))
        edges: dict[tuple[int, int], bool] = {}    # unit edge -> drawn as a plain edge?
        ins: list[list[int]] = [[] for _ in self.units]
        for n in g.nodes:
            v = self.unit_of[n.name]
            for i in n.inputs:
                u = self.unit_of.get(i)
                if u is None or u == v:
                    continue
                if u not in ins[v]:
                    ins[v].append(u)
                edges[(u, v)] = edges.get((u, v), False) or (i, n.name) not in skip
        self.edges = [e for e, plain in edges.items() if plain]
        width = max(120.0, min(480.0, 16 + max(_text_w(l, FONT) for u in self.units
                                                 for l in u.lines)))
        items = []
        for k, u in enumerate(self.units):
            if _is_join_glyph(u):
                w, h = 24.0, 16.0
            elif len(u.lines) > 1 or level != "layer":
                w, h = width, 8.0 + LINE * len(u.lines)
            else:
                w, h = (width, 22.0) if _is_major(u) else (width, 14.0)
            side = all(n.role == "shortcut" for n in u.nodes)
            items.append(Item(tuple(ins[k]), w, h, side))
        lay = layout(items)
        top = y0 + HEAD + 22                      # heading, then the input line
        # the stage names fit left of the boxes (GoogLeNet's inception_3a, DenseNet's dense_block_1)
        self.margin = max(MARGIN, 24 + max(_text_w(st.name, 10) for st in g.stages))
        self.boxes = [Placed(b.x + x0 + self.margin, b.y + top, b.w, b.h, b.rank)
                      for b in lay.boxes]
        self.by_rank: dict[int, list[Placed]] = {}
        for b in self.boxes:
            self.by_rank.setdefault(b.rank, []).append(b)
        t = self.counts.total
        # two short lines under the name, so a column is as narrow as its boxes (the exact
        # figures are in the footer and on every box)
        self.sub = (f"{g.depth} layers · {_short(t.params)} params", f"{_short(t.macs)} MACs")
        # room for the arcs on the right, and for the heading
        self.width = self.margin + max(lay.width + 24, _text_w(g.name, 14),
                                       *(_text_w(line, 10) for line in self.sub))
        self.height = HEAD + 22 + lay.height
        self.rows = {r.name: r for r in self.counts.layers}
        self.main_x = self.boxes[0].x

    # ---- pieces ----
    def heading(self) -> list[str]:
        g = self.g
        x = self.x0 + self.margin
        return [f'<text class="heading" x="{x:.0f}" y="{self.y0 + 16:.0f}">{escape(g.name)}</text>',
                *(f'<text class="sub" x="{x:.0f}" y="{self.y0 + 31 + 12 * i:.0f}">{line}</text>'
                  for i, line in enumerate(self.sub)),
                f'<text class="io" x="{self.main_x:.0f}" y="{self.y0 + HEAD + 12:.0f}">input '
                f'{dims_text(self.g.input_shape)}</text>']

    def stage_labels(self) -> list[str]:
        out, seen = [], {}
        for k, u in enumerate(self.units):
            seen.setdefault(u.stage, []).append(k)
        for st in self.g.stages:
            ks = seen.get(st.name)
            if not ks:
                continue
            y1 = min(self.boxes[k].y for k in ks)
            y2 = max(self.boxes[k].bottom for k in ks)
            shape = self.g.stage_output_shape(st)
            size = dims_text(shape[1:]) if len(shape) == 3 else f"{shape[0]}-d"
            x = self.x0 + self.margin - 18      # clear of the skip edges on the left
            out.append(f'<g class="stage"><path d="M{x:.0f},{y1:.0f}V{y2:.0f}"/>'
                       f'<text x="{x - 4:.0f}" y="{y1 + 9:.0f}">{escape(st.name)}</text>'
                       f'<text class="size" x="{x - 4:.0f}" y="{y1 + 20:.0f}">{size}</text></g>')
        return out

    def edge_paths(self) -> list[str]:
        out = []
        first = self.boxes[0]
        out.append(f'<path class="edge" d="M{first.x:.0f},{first.y - 8:.0f}V{first.y:.0f}"/>')
        for u, v in self.edges:
            a, b = self.boxes[u], self.boxes[v]
            if abs(a.x - b.x) < 1 and b.rank == a.rank + 1:
                d = f"M{a.x:.0f},{a.bottom:.0f}V{b.y:.0f}"
            elif abs(a.x - b.x) < 1:               # a skip in one column: around on the left
                xl = min(a.left, b.left) - 8
                d = (f"M{a.left:.0f},{a.bottom - 3:.0f}C{xl:.0f},{a.bottom:.0f} {xl:.0f},"
                     f"{b.y:.0f} {b.left:.0f},{b.y + 3:.0f}")
            else:                                  # down its own lane, then into the target
                ex = min(max(a.x, b.left + 4), b.right - 4)
                turn = max(a.bottom, b.y - 18)
                mid = (turn + b.y) / 2
                d = (f"M{a.x:.0f},{a.bottom:.0f}V{turn:.0f}C{a.x:.0f},{mid:.0f} "
                     f"{ex:.0f},{mid:.0f} {ex:.0f},{b.y:.0f}")
            out.append(f'<path class="edge" d="{d}"/>')
        return out

    def arc_paths(self) -> list[str]:
        out = []
        for s in self.cuts:
            dst = self.boxes[self.unit_of[s.add]]
            via = sorted({self.unit_of[c] for c in s.chain} - {self.unit_of[s.add]})
            src = self.boxes[self.unit_of[s.branch]] if s.branch in self.unit_of else None
            if src is None:                        # from the network input
                sx, sy = self.main_x, self.boxes[0].y - 6
            elif self.unit_of[s.branch] == self.unit_of[s.add]:
                sx, sy = src.right, src.y + 4      # a shortcut inside one box: along its side
            else:
                sx, sy = src.x, src.bottom + 4     # from the connector below the branch point
            single = len(self.units[self.unit_of[s.add]].nodes) == 1
            ex, ey = dst.right, (dst.y + dst.h / 2 if single else dst.bottom - 4)
            if via:
                lane = [self.boxes[k] for k in via]
                vx = lane[0].x
                d = (f"M{sx:.0f},{sy:.0f}C{sx:.0f},{lane[0].y:.0f} {vx:.0f},{sy:.0f} "
                     f"{vx:.0f},{lane[0].y:.0f}V{max(lane[-1].bottom, ey - 8):.0f}"
                     f"Q{vx:.0f},{ey:.0f} {max(ex, vx - 12):.0f},{ey:.0f}H{ex:.0f}")
            else:
                xr = self._clear_right(src, dst) + 12
                r = min(8.0, max(1.0, (ey - sy) / 2))
                d = (f"M{sx:.0f},{sy:.0f}H{xr - r:.0f}Q{xr:.0f},{sy:.0f} {xr:.0f},{sy + r:.0f}"
                     f"V{ey - r:.0f}Q{xr:.0f},{ey:.0f} {xr - r:.0f},{ey:.0f}H{ex:.0f}")
            out.append(f'<path class="shortcut {s.kind}" d="{d}"/>')
        return out

    def _clear_right(self, src: Placed | None, dst: Placed) -> float:
        """The right edge of the boxes an identity arc passes: those of the ranks between
        its ends in the target's lane (a pre-activation block's arc runs from one narrow
        ``+`` to the next, past full-width boxes)."""
        first = src.rank + 1 if src is not None else 0
        right = max(dst.right, src.right if src is not None else dst.right)
        for r in range(first, dst.rank):
            for b in self.by_rank.get(r, ()):
                if b.left <= dst.x <= b.right:
                    right = max(right, b.right)
        return right

    def box_elements(self, html: bool) -> list[str]:
        out = []
        stage_index = {st.name: i for i, st in enumerate(self.g.stages)}
        for u, b in zip(self.units, self.boxes):
            params, macs, cost = _sum([self.rows[n.name] for n in u.nodes])
            last = u.nodes[-1]
            name = self._name(u)
            shape = dims_text(last.shape)
            ops = " ".join(sorted({f"op-{n.op}" for n in u.nodes})) if len(u.nodes) == 1 else "group"
            cls = f"box {ops} {'major' if _is_major(u) else 'minor'} s{stage_index.get(u.stage, 0) % STAGE_COLOURS}"
            if _is_join_glyph(u):
                cls += " join"
            if all(n.role == "shortcut" for n in u.nodes):
                cls += " side"
            if html:
                meta = (f' data-name={quoteattr(name)} data-label={quoteattr(u.title)} '
                        f'data-shape="{shape}" data-params="{params}" data-macs="{macs}" '
                        f'data-cost="{cost}"')
                tip = ""
            else:
                meta = ""
                tip = (f"<title>{escape(name)}: {escape(u.title)} · {shape} · {params:,} params "
                       f"· {macs:,} MACs</title>")
            size = SMALL if b.h < 16 else FONT
            rx = b.h / 2 if _is_join_glyph(u) else 3
            text = self._text(u.lines, b, size)
            out.append(f'<g class="{cls}"{meta}>{tip}{_towers(u, b)}<rect x="{b.left:.0f}" '
                       f'y="{b.y:.0f}" width="{b.w:.0f}" height="{b.h:.0f}" rx="{rx:.0f}"/>'
                       f'{text}</g>')
        return out

    def _name(self, u: Unit) -> str:
        """A box's name for its tooltip: the node, block or stage, else its first…last node."""
        if self.level == "stage":
            return u.stage
        if len(u.nodes) == 1:
            return u.nodes[0].name
        return u.nodes[0].block or f"{u.nodes[0].name} … {u.nodes[-1].name}"

    @staticmethod
    def _text(lines: tuple[str, ...], b: Placed, size: int) -> str:
        if len(lines) == 1:
            return (f'<text x="{b.x:.0f}" y="{b.y + b.h / 2 + size * 0.36:.1f}" '
                    f'font-size="{size}">{escape(lines[0])}</text>')
        y = b.y + 4 + LINE * 0.78
        spans = "".join(f'<tspan x="{b.x:.0f}" y="{y + i * LINE:.1f}">{escape(l)}</tspan>'
                        for i, l in enumerate(lines))
        return f'<text font-size="{size}">{spans}</text>'
