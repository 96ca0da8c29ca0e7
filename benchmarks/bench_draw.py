"""How long `archdsl draw` takes and how big its files are, on the deepest bundled network.

    .venv/bin/python benchmarks/bench_draw.py [SPEC ...] [--by layer|block|stage] [--repeat N]

For each spec (default ResNet-1202, 4,209 IR nodes, and ResNet-152): the best time of
``archdsl.draw`` on the already built graph (layout, counts and the SVG/HTML text), the time
of load + draw (the whole cost of ``archdsl draw``), and the size of the SVG and of the HTML
page. Targets for ResNet-1202: under 1 s, under 2 MB. Prints, asserts nothing (no timed test).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from archdsl import draw, load  # noqa: E402

DEFAULT = ("resnet1202", "resnet152")


def best(fn, repeat: int) -> tuple[float, object]:
    """Best wall time of ``repeat`` calls in seconds (the least disturbed by a shared box)."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", default=DEFAULT)
    ap.add_argument("--by", choices=("layer", "block", "stage"), default="layer")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{'network':<12}{'nodes':>7}{'svg s':>8}{'html s':>8}{'load+svg s':>12}"
          f"{'svg MB':>9}{'html MB':>9}   targets: < 1 s, < 2 MB")
    for spec in args.specs:
        graph = load(spec)
        t_svg, svg = best(lambda: draw(graph, by=args.by), args.repeat)
        t_html, html = best(lambda: draw(graph, format="html", by=args.by), args.repeat)
        t_all, _ = best(lambda: draw(load(spec), by=args.by), args.repeat)
        mb = [len(s.encode()) / 1e6 for s in (svg, html)]
        ok = "ok" if max(t_svg, t_html) < 1 and max(mb) < 2 else "OVER"
        print(f"{spec:<12}{len(graph.nodes):>7}{t_svg:>8.3f}{t_html:>8.3f}{t_all:>12.3f}"
              f"{mb[0]:>9.2f}{mb[1]:>9.2f}   {ok}")


if __name__ == "__main__":
    main()
