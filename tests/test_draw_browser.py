"""archdsl draw's HTML page in a real browser: headless Chromium (Debian's ``chromium``
package; ``.ci/run`` installs it when it is missing) loads the page for ResNet-34 from a
file, with no network. The DOM has one box per IR node and one arc per shortcut, hovering a
box shows its name, shape, params and MACs from ``archdsl.count``, nothing is logged as an
error, nothing but the file is requested, and the screenshot is not blank.
Skips, saying why, where Chromium is not installed or cannot start.
"""
from __future__ import annotations

import time

import pytest

import archdsl
from archdsl.analysis.count import count
from chromium import Browser, BrowserError, find_chromium, png_ink


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium; .ci/run tries "
                    "and goes on without it): the browser test cannot run")
    try:
        b = Browser(binary, width=1000, height=800)
    except (BrowserError, OSError) as e:
        pytest.skip(f"Chromium ({binary}) did not start headless: {e}")
    yield b
    b.close()


def _hover(b: Browser, name: str) -> list[str]:
    x, y = b.eval(f"""(function(){{
        var e = document.querySelector('g.box[data-name="{name}"]');
        e.scrollIntoView({{block: 'center'}});
        var r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];
    }})()""")
    b.move_mouse(x, y)
    deadline = time.monotonic() + 5
    while b.eval("getComputedStyle(document.getElementById('card')).display") != "block":
        assert time.monotonic() < deadline, "no hover card"
        time.sleep(0.05)
    return b.eval("document.getElementById('card').innerText").splitlines()


def test_resnet34_page(browser, tmp_path):
    g = archdsl.load("resnet34")
    page = tmp_path / "resnet34.html"
    page.write_text(archdsl.draw(g, format="html"), encoding="utf-8")
    browser.load(page.as_uri())
    assert browser.eval("document.querySelectorAll('svg g.box').length") == len(g.nodes)
    assert browser.eval("document.querySelectorAll('svg path.shortcut').length") == 16
    assert browser.eval("document.querySelectorAll('svg path.shortcut.projection').length") == 3
    c = count(g)
    assert browser.eval("document.title") == (f"resnet34: {c.total.params:,} params, "
                                              f"{c.total.macs:,} MACs, {c.total.cost:,} FLOPs (fvcore)")
    row = next(r for r in c.layers if r.name == "conv3_x.0.conv1")
    assert _hover(browser, "conv3_x.0.conv1") == [
        "conv3_x.0.conv1", "3×3 conv, 128, /2", "output 128×28×28", f"{row.params:,} params",
        f"{row.macs:,} MACs", f"{row.cost:,} FLOPs (fvcore)"]
    assert browser.errors() == []
    assert [u for u in browser.requests() if not u.startswith("file:")] == []
    browser.eval("window.scrollTo(0, 0)")
    colours, ink = png_ink(browser.screenshot(full_page=False))
    # a blank page is one colour with no ink; the drawing has pastel boxes, text and lines
    assert colours > 50 and 0.05 < ink < 0.9, (colours, ink)
