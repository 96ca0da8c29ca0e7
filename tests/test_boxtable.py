"""The report's box tables are drawn without rich when they can be: held character for
character to what rich itself prints, on every bundled network, level and convention."""
from __future__ import annotations

import pytest

from archdsl.analysis import boxtable
from archdsl.analysis.count import CONVENTIONS, count
from archdsl.analysis.report import SweepRow, render_sweep, render_table
from archdsl.api import load
from conftest import SPECS


def _by_rich(monkeypatch, make):
    """``make()`` with every character counted as not plainly narrow, so rich draws it all."""
    with monkeypatch.context() as m:
        m.setattr(boxtable, "_narrow", lambda text: False)
        return make()


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_report_tables_equal_richs(spec, monkeypatch):
    graph = load(spec)
    for convention in CONVENTIONS:
        counts = count(graph, convention=convention)
        for level in ("stage", "block", "layer"):
            ours = render_table(counts, level)
            assert ours == _by_rich(monkeypatch, lambda: render_table(counts, level)), \
                (spec.stem, convention, level)


def test_sweep_table_equals_richs(monkeypatch):
    rows = [SweepRow(depth, f"resnet{depth}", g.depth, count(g))
            for depth, g in ((d, load("resnet-cifar", n=(d - 2) // 6)) for d in (20, 32, 56))]
    assert render_sweep("depth", rows) == _by_rich(monkeypatch, lambda: render_sweep("depth", rows))


def test_what_it_cannot_draw_goes_to_rich(monkeypatch):
    calls = []
    real = boxtable._rich
    monkeypatch.setattr(boxtable, "_rich", lambda *a: calls.append(a) or real(*a))
    rows = [["conv1", "64×112×112"], ["head", "1000"]]
    plain = boxtable.box_table("t", "a caption", ["stage", "output"], [False, True], rows)
    assert not calls and plain.splitlines()[1].startswith("┏")
    # too wide for the page: rich shrinks the columns
    boxtable.box_table("t", None, ["stage", "output"], [False, True], rows, width=12)
    # a wide (CJK) character: rich measures it as two cells
    boxtable.box_table("t", None, ["stage", "output"], [False, True], [["層", "1"]])
    assert len(calls) == 2


def test_long_title_and_caption_wrap_as_rich_wraps(monkeypatch):
    rows = [["a", "1"], ["bb", "22"]]
    args = ("a title of several words that is longer than the table",
            "a caption that is, likewise, much longer than the little table above it",
            ["name", "value"], [False, True], rows, ["total", "23"])
    ours = boxtable.box_table(*args)
    assert ours == boxtable.box_table(*args, force_rich=True)
    assert len(ours.splitlines()) > 9    # the title and the caption took several lines each
