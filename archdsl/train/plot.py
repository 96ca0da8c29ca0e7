"""Error curves as a PNG drawn with Pillow (matplotlib is not a dependency).

Styled after He et al.'s Figures 4 and 6: x = iterations, y = error (%), thin dashed lines
for training error and bold lines for test error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from archdsl.atomic import atomic_path
from archdsl.extras import need

PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]


@dataclass
class Series:
    """One curve: points (x, y) with a legend label, colour index and style."""

    label: str
    xs: list[float]
    ys: list[float]
    color: int = 0
    dashed: bool = False
    width: int = 2


def _ticks(lo: float, hi: float) -> list[float]:
    span = max(hi - lo, 1e-9)
    step = 10 ** math.floor(math.log10(span / 5))
    for m in (1, 2, 5, 10):
        if span / (m * step) <= 6:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _dashed(d: "ImageDraw.ImageDraw", xy: list, color, width: int, on: float = 6, off: float = 4) -> None:
    """Pillow has no dash pattern: walk the polyline, drawing ``on`` px and skipping ``off``."""
    phase = 0.0
    for (x0, y0), (x1, y1) in zip(xy, xy[1:]):
        length = math.hypot(x1 - x0, y1 - y0)
        t = 0.0
        while t < length:
            in_dash = phase < on
            step = min((on - phase) if in_dash else (on + off - phase), length - t)
            if in_dash:
                a, b = t / length, (t + step) / length
                d.line([(x0 + a * (x1 - x0), y0 + a * (y1 - y0)), (x0 + b * (x1 - x0), y0 + b * (y1 - y0))],
                       fill=color, width=width)
            t += step
            phase = (phase + step) % (on + off)


def plot_curves(series: list[Series], path: str | Path, title: str = "",
                xlabel: str = "iter.", ylabel: str = "error (%)", size=(800, 500)) -> Path:
    """Draw the curves with axes, ticks and a legend; returns the written path."""
    return plot_panels([(series, ylabel)], path, title, xlabel, size)


def plot_panels(panels: list[tuple[list[Series], str]], path: str | Path, title: str = "",
                xlabel: str = "iter.", size=(800, 500)) -> Path:
    """Panels stacked top to bottom, each ``(series, ylabel)`` on its own axes and legend
    (the first ``size`` tall, the others 60 % of it); returns the written path."""
    need("PIL", "the curves PNG")   # Pillow comes with the `train` extra
    from PIL import Image, ImageDraw, ImageFont
    w, h = size
    heights = [h] + [int(h * 0.6)] * (len(panels) - 1)
    img = Image.new("RGB", (w, sum(heights)), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    top = 0
    for i, ((series, ylabel), ph) in enumerate(zip(panels, heights)):
        _panel(d, font, (0, top, w, top + ph), series, title if i == 0 else "", xlabel, ylabel)
        top += ph
    path = Path(path)
    with atomic_path(path) as tmp:   # Pillow picks PNG from the temp name's last suffix
        img.save(tmp)
    return path


def _panel(d, font, box, series: list[Series], title: str, xlabel: str, ylabel: str) -> None:
    """One set of axes in ``box`` = (x0, y0, x1, y1): grid, ticks, labels, curves, legend."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    left, right, top, bottom = 70, 20, 40, 50
    pts = [(x, y) for s in series for x, y in zip(s.xs, s.ys)]
    xmax = max((p[0] for p in pts), default=1) or 1
    ymax = max((p[1] for p in pts), default=1) * 1.05 or 1
    def to_px(x: float, y: float) -> tuple[float, float]:
        return (x0 + left + x / xmax * (w - left - right),
                y0 + h - bottom - y / ymax * (h - top - bottom))
    d.rectangle([x0 + left, y0 + top, x1 - right, y1 - bottom], outline="black")
    for t in _ticks(0, ymax):
        px = to_px(0, t)
        d.line([px, (x1 - right, px[1])], fill=(225, 225, 225))
        d.text((x0 + left - 8, px[1]), f"{t:g}", fill="black", font=font, anchor="rm")
    for t in _ticks(0, xmax):
        px = to_px(t, 0)
        d.line([px, (px[0], px[1] + 4)], fill="black")
        d.text((px[0], px[1] + 6), f"{t:g}", fill="black", font=font, anchor="ma")
    d.text((x0 + w / 2, y1 - 18), xlabel, fill="black", font=font, anchor="ma")
    d.text((x0 + 8, y0 + top - 20), ylabel, fill="black", font=font)
    if title:
        d.text((x0 + w / 2, y0 + 8), title, fill="black", font=font, anchor="ma")
    for s in series:
        color = PALETTE[s.color % len(PALETTE)]
        xy = [to_px(x, y) for x, y in zip(s.xs, s.ys)]
        if s.dashed:
            _dashed(d, xy, color, s.width)
        elif len(xy) > 1:
            d.line(xy, fill=color, width=s.width, joint="curve")
        elif xy:
            d.ellipse([xy[0][0] - 2, xy[0][1] - 2, xy[0][0] + 2, xy[0][1] + 2], fill=color)
    for i, s in enumerate(series):  # legend, top right
        y = y0 + top + 10 + 14 * i
        seg = [(x1 - right - 150, y), (x1 - right - 125, y)]
        color = PALETTE[s.color % len(PALETTE)]
        _dashed(d, seg, color, s.width) if s.dashed else d.line(seg, fill=color, width=s.width)
        d.text((x1 - right - 120, y), s.label, fill="black", font=font, anchor="lm")
