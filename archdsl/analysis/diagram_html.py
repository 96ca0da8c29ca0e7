"""The diagram as one self-contained HTML page: the SVG inline, CSS and JS inline, no
network access. Hovering a box shows its name, output shape, params and MACs (and the
figure under the page's counting convention); the title and the footer give the totals and
the convention."""
from __future__ import annotations

from xml.sax.saxutils import escape

from archdsl.analysis.diagram import FORMATS, footer_lines, render_svg, svg_and_counts
from archdsl.errors import ArchError
from archdsl.ir.graph import Graph

_PAGE_CSS = """
body{margin:16px;font-family:Helvetica,Arial,sans-serif;color:#222}
h1{font-size:18px;margin:0 0 8px}
footer{font-size:12px;color:#555;margin-top:12px;line-height:1.5}
#card{position:fixed;display:none;pointer-events:none;background:#fff;border:1px solid #888;
  border-radius:4px;padding:6px 8px;font-size:12px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
#card b{display:block;margin-bottom:2px}
.box:hover rect{stroke:#c00;stroke-width:1.6}
"""

# Event delegation: one listener for thousands of boxes (ResNet-1202 has 4,209).
_JS = """
(function(){
  var card=document.getElementById('card'), conv=document.body.dataset.convention;
  function n(v){return Number(v).toLocaleString('en-US');}
  function show(box,e){
    var d=box.dataset;
    card.innerHTML='<b></b><div class=l></div><div class=s></div><div class=p></div>'+
      '<div class=m></div><div class=c></div>';
    card.querySelector('b').textContent=d.name;
    card.querySelector('.l').textContent=d.label;
    card.querySelector('.s').textContent='output '+d.shape;
    card.querySelector('.p').textContent=n(d.params)+' params';
    card.querySelector('.m').textContent=n(d.macs)+' MACs';
    card.querySelector('.c').textContent=n(d.cost)+' FLOPs ('+conv+')';
    card.style.display='block';
    // beside the pointer, flipped to its left/top where the card would leave the window
    var x=e.clientX+14, y=e.clientY+14;
    if(x+card.offsetWidth>window.innerWidth){x=Math.max(0,e.clientX-14-card.offsetWidth);}
    if(y+card.offsetHeight>window.innerHeight){y=Math.max(0,e.clientY-14-card.offsetHeight);}
    card.style.left=x+'px'; card.style.top=y+'px';
  }
  document.addEventListener('mousemove',function(e){
    var box=e.target.closest ? e.target.closest('g.box') : null;
    if(box){show(box,e);} else {card.style.display='none';}
  });
})();
"""


def render_html(graphs: Graph | list[Graph], by: str = "layer", convention: str = "fvcore") -> str:
    """A self-contained HTML page drawing ``graphs`` (see
    :func:`archdsl.analysis.diagram.render_svg`)."""
    graphs = [graphs] if isinstance(graphs, Graph) else list(graphs)
    svg, counts = svg_and_counts(graphs, by, convention, html=True)
    title = " · ".join(f"{g.name}: {c.total.params:,} params, {c.total.macs:,} MACs, "
                       f"{c.total.cost:,} FLOPs ({convention})" for g, c in zip(graphs, counts))
    foot = "<br>".join(escape(line) for line in footer_lines(graphs, convention, counts))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f"<title>{escape(title)}</title>\n<style>{_PAGE_CSS}</style></head>\n"
            f'<body data-convention="{escape(convention)}">\n'
            f"<h1>{escape(', '.join(g.name for g in graphs))}</h1>\n{svg}"
            f"<footer>{foot}</footer>\n<div id=\"card\"></div>\n"
            f"<script>{_JS}</script>\n</body></html>\n")


def draw(graphs: Graph | list[Graph], format: str = "svg", by: str = "layer",
         convention: str = "fvcore") -> str:
    """The picture of ``graphs`` as ``format`` ``"svg"`` or ``"html"`` (a self-contained page)."""
    if format not in FORMATS:
        raise ArchError(f"unknown diagram format {format!r}", hint="use svg or html")
    if format == "html":
        return render_html(graphs, by, convention)
    return render_svg(graphs, by, convention)
