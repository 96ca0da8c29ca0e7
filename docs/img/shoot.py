"""Re-take the README's pictures: `archdsl draw`'s HTML pages screenshotted in headless Chromium.

    .venv/bin/python docs/img/shoot.py

Writes docs/img/figure3.png (VGG-19 = vgg-e, plain-34 and ResNet-34 side by side, as the
ResNet paper's Figure 3) and docs/img/alexnet.png (the two-GPU AlexNet, with the hover card
of its grouped conv2 showing). Needs Chromium (apt-get install -y chromium).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import archdsl  # noqa: E402
from archdsl.atomic import atomic_path  # noqa: E402
from chromium import Browser, find_chromium  # noqa: E402

SHOTS = {   # file: (networks, level, box to hover or None, window width)
    "figure3.png": (("vgg-e", "plain34", "resnet34"), "layer", None, 1040),
    "alexnet.png": (("alexnet",), "layer", "conv2.conv", 560),
}


def main() -> None:
    binary = find_chromium()
    if binary is None:
        sys.exit("Chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (specs, level, hover, width) in SHOTS.items():
            page = Path(tmp) / (name + ".html")
            page.write_text(archdsl.draw(list(specs), format="html", by=level), encoding="utf-8")
            with Browser(binary, width=width, height=900) as b:
                b.load(page.as_uri())
                if hover:
                    x, y = b.eval(f"""(function(){{
                        var r = document.querySelector('g.box[data-name="{hover}"]')
                            .getBoundingClientRect();
                        return [r.x + r.width * 0.7, r.y + r.height / 2]; }})()""")
                    b.move_mouse(x, y)
                    time.sleep(0.3)
                png = b.screenshot(full_page=hover is None)
                if b.errors():
                    sys.exit(f"{name}: the page logged errors: {b.errors()}")
            with atomic_path(HERE / name) as out:
                out.write_bytes(png)
            print(f"wrote {HERE / name} ({len(png):,} bytes)")


if __name__ == "__main__":
    main()
