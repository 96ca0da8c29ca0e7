"""archdsl draw: every bundled spec drawn and read back with xml.etree.

One box per IR node (or per block / stage), one arc per residual shortcut (solid identity,
dashed projection / zero-pad), labels in the papers' notation (Figure 3's for layers, the
table's cells for blocks and stages, read from ``render_table``'s markdown), no two boxes
overlapping; branches of hand-built DAGs side by side; the HTML self-contained.
"""
from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings, strategies as st

import archdsl
from archdsl.analysis.count import CONVENTIONS, count
from archdsl.analysis.diagram import render_svg
from archdsl.analysis.diagram_html import draw
from archdsl.analysis.layout import Item, layout
from archdsl.analysis.table import render_table
from archdsl.errors import ArchError
from conftest import ROOT, SPECS
from test_count_nets import L, bn, conv, fc, graph, pool, tiny_resnet

SVG = "{http://www.w3.org/2000/svg}"


def _cls(e) -> set[str]:
    return set(e.get("class", "").split())


def parse(svg: str) -> dict:
    """Boxes (rect coordinates, label lines, classes), shortcut arcs and edges of an SVG."""
    root = ET.fromstring(svg)
    boxes = []
    for g in root.iter(SVG + "g"):
        if "box" not in _cls(g):
            continue
        r = g.find(SVG + "rect")
        t = g.find(SVG + "text")
        spans = t.findall(SVG + "tspan")
        lines = [s.text for s in spans] if spans else [t.text]
        boxes.append(dict(x=float(r.get("x")), y=float(r.get("y")), w=float(r.get("width")),
                          h=float(r.get("height")), lines=lines, cls=_cls(g), g=g))
    paths = list(root.iter(SVG + "path"))
    return dict(root=root, boxes=boxes,
                arcs=[_cls(p) for p in paths if "shortcut" in _cls(p)],
                edges=[p for p in paths if "edge" in _cls(p)])


def no_overlap(boxes) -> None:
    """No two rectangles share any area (sorted sweep over x, then a check on y)."""
    order = sorted(boxes, key=lambda b: b["x"])
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if b["x"] >= a["x"] + a["w"]:
                break
            assert b["y"] >= a["y"] + a["h"] or a["y"] >= b["y"] + b["h"], (a["lines"], b["lines"])


def expected_units(g, level):
    """The runs of consecutive nodes one box stands for, recomputed from the IR."""
    key = {"layer": lambda n: n.name, "stage": lambda n: n.stage,
           "block": lambda n: n.block or (n.stage, n.span.line, n.span.col)}[level]
    runs = []
    for n in g.nodes:
        if runs and key(runs[-1][-1]) == key(n):
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs


def shortcut_kinds(g) -> dict[str, int]:
    """Per add node: identity when no shortcut-role layer feeds it, else projection or
    zero-pad (a pad_shortcut among them)."""
    by = {n.name: n for n in g.nodes}
    kinds: dict[str, int] = {}
    for n in g.nodes:
        if n.op != "add":
            continue
        side = [by[i] for i in n.inputs if i in by and by[i].role == "shortcut"]
        kind = ("identity" if not side else
                "zero-pad" if any(s.op == "pad_shortcut" for s in side) else "projection")
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def stage_cells(g) -> list[list[str]] | None:
    """The description cell of each stage in the table's markdown, split into its rows;
    None where the table has another layout than ResNet's Table 1 (GoogLeNet's columns)."""
    lines = render_table(g, "markdown").splitlines()
    if not lines[0].startswith("| layer name | output size |"):
        return None
    cells = [[c.strip() for c in l.split("|")[1:-1]] for l in lines[2:]]
    return [c[2].split("<br>") for c in cells[:len(g.stages)]]


def conv_label(n) -> str:
    kh, kw = n["kernel"]
    s, g = n["stride"][0], n["groups"]
    dw = g > 1 and g == n["in_channels"] == n["out_channels"]       # depthwise: MobileNet's "dw"
    return (f"{kh}×{kw} {'dw conv' if dw else 'conv'}, {n['out_channels']}"
            + (f", {g} groups" if g > 1 and not dw else "") + (f", /{s}" if s > 1 else ""))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_spec_draws_and_reads_back(path):
    g = archdsl.load(path)
    cells = stage_cells(g)
    stage_no = {st.name: i for i, st in enumerate(g.stages)}
    for level in ("layer", "block", "stage"):
        d = parse(render_svg(g, by=level))
        runs = expected_units(g, level)
        assert len(d["boxes"]) == len(runs), level
        no_overlap(d["boxes"])
        kinds = shortcut_kinds(g) if level != "stage" else {}
        assert len(d["arcs"]) == sum(kinds.values()), level
        for kind, k in kinds.items():
            assert sum(kind in a for a in d["arcs"]) == k, (level, kind)
        for run, box in zip(runs, d["boxes"]):
            assert all(box["lines"]), box
            if cells is None and level != "layer":
                continue        # another table layout: its cells are not the stage's rows
            cell = cells[stage_no[run[0].stage]] if cells else []
            if level == "layer" and run[0].op == "conv":
                assert box["lines"] == [conv_label(run[0])]
            elif level == "layer" and run[0].op == "fc":
                assert box["lines"] == [f"fc {run[0]['out_features']}"]
            elif level == "stage":
                assert box["lines"] == cell
            elif level == "block":
                # a block is its bracket as the table prints it; a loose run, its layer's parts
                many = run[0].block and len(box["lines"]) > 1
                text = "[" + "; ".join(box["lines"]) + "]" if many else box["lines"][0]
                assert any(text in row for row in cell), (text, cell)


# the papers' figures, counted: Figure 3's ResNet-34 has 16 shortcuts, 3 of them dotted
@pytest.mark.parametrize("name, kinds", [
    ("resnet34", {"identity": 13, "projection": 3}), ("resnet34-a", {"identity": 13, "zero-pad": 3}),
    ("resnet34-c", {"projection": 16}), ("resnet50", {"identity": 12, "projection": 4}),
    ("plain34", {}), ("vgg-e", {}),
])
def test_shortcut_arcs_of_the_seed_figures(name, kinds):
    d = parse(draw(archdsl.load(name)))
    got: dict[str, int] = {}
    for a in d["arcs"]:
        kind = (a - {"shortcut"}).pop()
        got[kind] = got.get(kind, 0) + 1
    assert got == kinds
    css = d["root"].find(SVG + "style").text
    assert re.search(r"\.shortcut\.projection,\.shortcut\.zero-pad\{stroke-dasharray", css)


def test_figure3_columns_side_by_side():
    gs = [archdsl.load(n) for n in ("vgg-e", "plain34", "resnet34")]
    d = parse(draw(gs))
    cols = [c for c in d["root"].iter(SVG + "g") if "column" in _cls(c)]
    assert [c.get("data-network") for c in cols] == ["vgg-e", "plain34", "resnet34"]
    spans = []
    for c, g in zip(cols, gs):
        rects = [r for r in c.iter(SVG + "rect")]
        assert len(rects) == len(g.nodes)
        spans.append((min(float(r.get("x")) for r in rects),
                      max(float(r.get("x")) + float(r.get("width")) for r in rects)))
    assert spans[0][1] < spans[1][0] and spans[1][1] < spans[2][0]
    no_overlap(d["boxes"])
    # the first labels are Figure 3's
    first = [b["lines"][0] for b in d["boxes"] if "op-conv" in b["cls"]]
    assert first[0] == "3×3 conv, 64" and "7×7 conv, 64, /2" in first


def test_stage_sizes_beside_the_stages():
    g = archdsl.load("resnet34")
    root = ET.fromstring(draw(g))
    stages = [s for s in root.iter(SVG + "g") if "stage" in _cls(s)]
    texts = [[t.text for t in s.findall(SVG + "text")] for s in stages]
    assert texts[0] == ["conv1", "112×112"] and texts[4] == ["conv5_x", "7×7"]
    assert texts[-1] == ["head", "1000-d"]


# ---- general DAGs --------------------------------------------------------------------------
def inception_se_dense():
    """A stem, an inception-like module (four branches → concat), a fire module (squeeze →
    two expands → concat), an SE gate (gap → fc-like convs → sigmoid → mul) and a dense
    layer (concat of its input and its new features)."""
    M, F, S, D = "inc.0", "fire.0", "se.0", "dense.0"
    return graph("dag", (3, 16, 16), [
        L("stem.conv", conv(3, 8), "stem"), L("stem.relu", ("relu", ()), "stem"),
        L(f"{M}.b1", conv(8, 4, 1), "inc", M, ("stem.relu",)),
        L(f"{M}.b2a", conv(8, 2, 1), "inc", M, ("stem.relu",)),
        L(f"{M}.b2b", conv(2, 4, 3), "inc", M),
        L(f"{M}.b3a", conv(8, 2, 1), "inc", M, ("stem.relu",)),
        L(f"{M}.b3b", conv(2, 4, 5), "inc", M),
        L(f"{M}.b4a", pool("maxpool", 3, 1, 1), "inc", M, ("stem.relu",)),
        L(f"{M}.b4b", conv(8, 4, 1), "inc", M),
        L(f"{M}.cat", ("concat", ()), "inc", M, (f"{M}.b1", f"{M}.b2b", f"{M}.b3b", f"{M}.b4b")),
        L(f"{F}.squeeze", conv(16, 4, 1), "fire", F), L(f"{F}.relu", ("relu", ()), "fire", F),
        L(f"{F}.e1", conv(4, 8, 1), "fire", F, (f"{F}.relu",)),
        L(f"{F}.e3", conv(4, 8, 3), "fire", F, (f"{F}.relu",)),
        L(f"{F}.cat", ("concat", ()), "fire", F, (f"{F}.e1", f"{F}.e3")),
        L(f"{S}.pool", ("gap", ()), "se", S), L(f"{S}.fc1", conv(16, 4, 1, bias=True), "se", S),
        L(f"{S}.fc2", conv(4, 16, 1, bias=True), "se", S), L(f"{S}.gate", ("sigmoid", ()), "se", S),
        L(f"{S}.scale", ("mul", ()), "se", S, (f"{F}.cat", f"{S}.gate")),
        L(f"{D}.bn", bn(16), "dense", D), L(f"{D}.conv", conv(16, 4), "dense", D),
        L(f"{D}.cat", ("concat", ()), "dense", D, (f"{S}.scale", f"{D}.conv")),
        L("head.pool", ("gap", ()), "head"), L("head.flatten", ("flatten", ()), "head"),
        L("head.fc", fc(20, 5), "head"),
    ])


def _by_name(g, d):
    return {n.name: b for n, b in zip(g.nodes, d["boxes"])}


def test_parallel_branches_are_side_by_side():
    g = inception_se_dense()
    g.lint()
    d = parse(draw(g))
    assert len(d["boxes"]) == len(g.nodes)
    no_overlap(d["boxes"])
    box = _by_name(g, d)
    cx = {k: b["x"] + b["w"] / 2 for k, b in box.items()}
    heads = [box[f"inc.0.{b}"] for b in ("b1", "b2a", "b3a", "b4a")]
    assert len({b["y"] for b in heads}) == 1                       # one band
    xs = [b["x"] for b in heads]
    assert xs == sorted(xs) and len(set(xs)) == 4                  # four lanes, in order
    # the module's output lines up with its input: the branches are centred on it
    assert cx["inc.0.cat"] == pytest.approx(cx["stem.relu"], abs=1)
    assert cx["inc.0.cat"] == pytest.approx(sum(b["x"] + b["w"] / 2 for b in heads) / 4, abs=1)
    e1, e3 = box["fire.0.e1"], box["fire.0.e3"]
    assert e1["y"] == e3["y"] and e1["x"] + e1["w"] <= e3["x"]
    assert cx["fire.0.cat"] == pytest.approx(cx["fire.0.relu"], abs=1)
    # every input edge is drawn (no shortcut arcs here: no add), plus the input's stub
    pairs = sum(len(n.inputs) for n in g.nodes)
    assert len(d["edges"]) == pairs and not d["arcs"]
    assert box["inc.0.cat"]["lines"] == ["concat"] and box["se.0.scale"]["lines"] == ["×"]


def test_dag_at_block_and_stage_level():
    g = inception_se_dense()
    for level, n in (("block", 6), ("stage", 6)):   # hand-built: one span, so one stem run
        d = parse(draw(g, by=level))
        assert len(d["boxes"]) == len(expected_units(g, level)) == n
        no_overlap(d["boxes"])
    # without spec text the block boxes list their weighted layers
    d = parse(draw(g, by="block"))
    assert d["boxes"][1]["lines"] == ["1×1 conv, 4", "1×1 conv, 2", "3×3 conv, 4", "1×1 conv, 2",
                                      "5×5 conv, 4", "3×3 max pool", "1×1 conv, 4"]


def test_hand_built_resnet_shortcuts():
    g = tiny_resnet()
    d = parse(draw(g))
    assert sorted((a - {"shortcut"}).pop() for a in d["arcs"]) == ["projection", "zero-pad"]
    no_overlap(d["boxes"])
    box = _by_name(g, d)
    # the projection's layers sit to the right of the main path, beside the block's first layers
    main, side = box["conv3_x.0.conv1"], box["conv3_x.0.shortcut.conv"]
    assert side["y"] == main["y"] and side["x"] >= main["x"] + main["w"]
    assert "side" in side["cls"]


# ---- formats, API, CLI -----------------------------------------------------------------------
def test_html_is_self_contained_with_hover_data_and_totals():
    g = archdsl.load("resnet18")
    page = archdsl.draw(g, format="html")
    assert page.startswith("<!DOCTYPE html>") and "<script>" in page and "<style>" in page
    assert not re.search(r"<(link|img|iframe)|\bsrc=|@import|url\(", page)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]
    c = count(g)
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert title == f"resnet18: {c.total.params:,} params, {c.total.macs:,} MACs, {c.total.cost:,} FLOPs (fvcore)"
    footer = re.search(r"<footer>(.*?)</footer>", page, re.S).group(1)
    assert CONVENTIONS["fvcore"].replace("&", "&amp;") in footer
    svg = page[page.index("<svg"):page.index("</svg>") + 6]
    boxes = parse(svg)["boxes"]
    names = [b["g"].get("data-name") for b in boxes]
    assert names == [n.name for n in g.nodes]
    assert sum(int(b["g"].get("data-params")) for b in boxes) == c.total.params
    assert sum(int(b["g"].get("data-macs")) for b in boxes) == c.total.macs
    assert [b["g"].get("data-shape") for b in boxes][:1] == ["64×112×112"]


def test_svg_tooltips_and_repr_svg():
    g = archdsl.load("resnet18")
    svg = g._repr_svg_()
    d = parse(svg)
    first = d["boxes"][0]["g"].find(SVG + "title").text
    assert first == "conv1.conv: 7×7 conv, 64, /2 · 64×112×112 · 9,408 params · 118,013,952 MACs"
    assert archdsl.draw("resnet18") == svg
    assert archdsl.draw(["resnet20", "plain-cifar"], by="stage").count('class="column"') == 2
    assert archdsl.draw("resnet-cifar", n=5) == archdsl.draw("resnet32")


@pytest.mark.parametrize("kw, words", [
    (dict(format="png"), "unknown diagram format"), (dict(by="row"), "unknown diagram level"),
    (dict(convention="flops"), "unknown counting convention"),
])
def test_bad_arguments_are_arch_errors(kw, words):
    with pytest.raises(ArchError, match=words):
        archdsl.draw("resnet20", **kw)


def _cli(*argv, cwd=None):
    code = ("import sys; from archdsl.cli.main import main; rc = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'draw imported torch'; sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_cli_writes_svg_and_html_without_torch(tmp_path):
    r = _cli("draw", "resnet20", "plain-cifar", "-o", str(tmp_path / "f.svg"), "--by", "block")
    assert r.returncode == 0, r.stderr
    d = parse((tmp_path / "f.svg").read_text())
    assert len(d["boxes"]) == sum(len(expected_units(archdsl.load(n), "block"))
                                  for n in ("resnet20", "plain-cifar"))
    r = _cli("draw", "resnet-cifar", "-D", "n=5", "-o", str(tmp_path / "f.html"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f.html").read_text() == archdsl.draw("resnet32", format="html")
    r = _cli("draw", "resnet20", "-f", "html")
    assert r.returncode == 0 and r.stdout.startswith("<!DOCTYPE html>")
    r = _cli("draw", "resnet20", "-o", str(tmp_path / "f.png"))
    assert r.returncode == 2 and "cannot tell the picture's format" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "f.png").exists()


# ---- the layout on any DAG ------------------------------------------------------------------
@st.composite
def dags(draw_):
    """Random DAGs of boxes: each item reads 0–3 earlier items, with random sizes and sides."""
    n = draw_(st.integers(1, 40))
    items = []
    for i in range(n):
        k = draw_(st.integers(0 if i == 0 else 1, min(3, i)))
        ins = draw_(st.lists(st.integers(0, i - 1), min_size=k, max_size=k, unique=True)) if i else []
        items.append(Item(tuple(sorted(ins)), draw_(st.sampled_from([24.0, 120.0, 200.0])),
                          draw_(st.sampled_from([14.0, 22.0, 47.0])), draw_(st.booleans())))
    return items


@settings(max_examples=100, deadline=None)
@given(dags())
def test_layout_of_any_dag_has_no_overlaps_and_flows_down(items):
    lay = layout(items)
    boxes = [dict(x=b.left, y=b.y, w=b.w, h=b.h, lines=[i]) for i, b in enumerate(lay.boxes)]
    no_overlap(boxes)
    for it, b in zip(items, lay.boxes):
        assert b.left >= -1e-9 and b.right <= lay.width + 1e-9 and b.bottom <= lay.height + 1e-9
        assert all(lay.boxes[j].bottom < b.y for j in it.inputs)     # every edge points down
