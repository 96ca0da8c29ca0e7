"""IR -> a picture of the network, as an SVG or a self-contained HTML page (torch-free).

In the style of the ResNet paper's Figure 3: one box per layer (or per block / stage, see
:mod:`archdsl.analysis.notation` for the labels), output sizes beside the stages, residual
shortcuts as arcs on the right (solid: identity; dashed: projection or zero-pad, drawn
through the shortcut's own boxes at the layer level), branches and concatenations side by
side (:mod:`archdsl.analysis.layout` places any DAG), several networks in columns. Every
box carries its name, output shape, params and MACs from :func:`archdsl.analysis.count.count`
(a tooltip in the SVG; a hover card in the HTML, :mod:`archdsl.analysis.diagram_html`).
No graphviz, no network access: the output is one string.
"""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from archdsl.analysis.count import CONVENTIONS
from archdsl.analysis.diagram_column import Column, Shortcut, shortcuts
from archdsl.analysis.notation import LEVELS
from archdsl.errors import ArchError
from archdsl.ir.graph import Graph

__all__ = ["FORMATS", "Shortcut", "footer_lines", "render_svg", "shortcuts"]

FORMATS = ("svg", "html")
_COL_GAP = 24                            # px between columns

_CSS = """
svg.archdsl{font-family:Helvetica,Arial,sans-serif;background:#fff}
.box rect{stroke:#555;stroke-width:.8}
.box text{text-anchor:middle;fill:#111}
.box.minor rect{fill:#fafafa;stroke:#aaa}
.box.minor text{fill:#555}
.box.join rect{fill:#fff}
.box.side rect{stroke-dasharray:3 2}
.tower{fill:none;stroke:#777;stroke-width:.8}
.s0 rect{fill:#f6d5c1}.s1 rect{fill:#d9e8f5}.s2 rect{fill:#dcefd7}.s3 rect{fill:#f3e3b9}
.s4 rect{fill:#e6dcf2}.s5 rect{fill:#f2d7e1}.s6 rect{fill:#d5eeea}.s7 rect{fill:#ece6d4}
.edge{fill:none;stroke:#777;stroke-width:1}
.shortcut{fill:none;stroke:#222;stroke-width:1.2}
.shortcut.projection,.shortcut.zero-pad{stroke-dasharray:4 3}
.stage path{stroke:#999;fill:none}
.stage text{text-anchor:end;font-size:10px;font-weight:bold;fill:#333}
.stage text.size{font-weight:normal;fill:#666}
.heading{font-size:14px;font-weight:bold}
.sub,.io,.footer{font-size:10px;fill:#555}
.io{text-anchor:middle}
"""


def _wrap(line: str, chars: int) -> list[str]:
    """``line`` broken at spaces into lines of at most ``chars`` characters."""
    out = [""]
    for word in line.split(" "):
        if out[-1] and len(out[-1]) + 1 + len(word) > chars:
            out.append(word)
        else:
            out[-1] = f"{out[-1]} {word}" if out[-1] else word
    return out


def footer_lines(graphs: list[Graph], convention: str, counts: list) -> list[str]:
    """The totals of each network and the counting convention, one line each."""
    lines = [f"{g.name}: {c.total.params:,} params, {c.total.macs:,} MACs, {c.total.cost:,} "
             f"FLOPs ({convention})" for g, c in zip(graphs, counts)]
    lines.append(CONVENTIONS[convention] + "; MACs = conv+fc multiply-adds")
    lines.append("arcs: residual shortcuts (solid: identity; dashed: projection or zero-pad)")
    return lines


def render_svg(graphs: Graph | list[Graph], by: str = "layer", convention: str = "fvcore",
               html: bool = False) -> str:
    """An SVG drawing of one or several networks side by side (Figure 3's columns).

    ``by`` is ``layer`` (one box per IR node), ``block`` (one per block or spec part) or
    ``stage``; ``html`` writes hover data attributes instead of SVG tooltips (see
    :func:`archdsl.analysis.diagram_html.render_html`).
    """
    return svg_and_counts(graphs, by, convention, html)[0]


def svg_and_counts(graphs: Graph | list[Graph], by: str, convention: str,
                   html: bool) -> tuple[str, list]:
    """:func:`render_svg`'s text and the :class:`~archdsl.analysis.count.Counts` it drew."""
    graphs = [graphs] if isinstance(graphs, Graph) else list(graphs)
    if not graphs:
        raise ArchError("a diagram needs at least one network")
    if by not in LEVELS:
        raise ArchError(f"unknown diagram level {by!r}", hint="use layer, block or stage")
    if convention not in CONVENTIONS:
        raise ArchError(f"unknown counting convention {convention!r}",
                        hint="use one of " + ", ".join(CONVENTIONS))
    cols, x = [], 8.0
    for g in graphs:
        col = Column(g, by, convention, x, 8.0)
        cols.append(col)
        x += col.width + _COL_GAP
    body_h = max(c.height for c in cols) + 8
    width = x - _COL_GAP + 8
    # the page prints its own footer; a bare SVG carries it, wrapped to the drawing's width
    foot = [] if html else [w for line in footer_lines(graphs, convention, [c.counts for c in cols])
                            for w in _wrap(line, max(60, int((width - 16) / 6)))]
    height = body_h + 16 + 14 * len(foot)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="archdsl" width="{width:.0f}" '
             f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" data-level="{by}">',
             f"<style>{_CSS}</style>",
             f"<title>{escape(', '.join(g.name for g in graphs))}</title>"]
    for c in cols:
        parts.append(f'<g class="column" data-network={quoteattr(c.g.name)}>')
        parts += c.heading() + c.stage_labels()
        parts.append('<g class="edges">')
        parts += c.edge_paths() + ["</g>", '<g class="shortcuts">'] + c.arc_paths() + ["</g>"]
        parts += ['<g class="boxes">'] + c.box_elements(html) + ["</g>", "</g>"]
    for i, line in enumerate(foot):
        parts.append(f'<text class="footer" x="8" y="{body_h + 14 + 14 * i:.0f}">'
                     f"{escape(line)}</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n", [c.counts for c in cols]
