"""A titled, captioned box table as plain text: what rich's ``Table`` prints for ``report``.

``archdsl report`` is a command people run many times a minute, and importing rich costs
~25 ms, more than parsing, building and counting ResNet-152 together. Every table ``report``
prints is single-line cells in rich's default box (``HEAVY_HEAD``), left- or right-justified,
so this module draws that case itself, character for character what rich prints (a test
holds the two equal on every bundled network, level and convention). Anything outside that
case — a table wider than the page, a character whose terminal width is not plainly one
cell, a caption word longer than the table — is handed to rich, which knows how to shrink,
measure and fold.
"""
from __future__ import annotations

import io
import re
import unicodedata
from typing import Sequence

#: rich's box.HEAVY_HEAD, row by row: (left, fill, divider, right)
_TOP, _HEAD, _HEAD_RULE = "┏━┳┓", "┃ ┃┃", "┡━╇┩"
_ROW, _FOOT_RULE, _BOTTOM = "│ ││", "├─┼┤", "└─┴┘"
_WORDS = re.compile(r"\s*\S+\s*")


def _narrow(text: str) -> bool:
    """Whether every character of ``text`` is one terminal cell wide, as rich counts it:
    printable, not combining, and below the CJK blocks (where wide characters start)."""
    return text.isascii() and text.isprintable() or all(
        c.isprintable() and ord(c) < 0x2E80 and not unicodedata.combining(c) for c in text)


def _wrap(text: str, width: int) -> list[str] | None:
    """``text`` broken into lines of at most ``width`` cells at spaces, each padded to
    ``width`` (rich's left-justified wrap); None when a word is longer than a line."""
    lines, line = [], ""
    for word in _WORDS.findall(text):
        if len(line) + len(word.rstrip()) <= width:
            line += word
            continue
        if len(word.rstrip()) > width:
            return None
        lines.append(line)
        line = word.lstrip()
    lines.append(line)
    return [ln.rstrip().ljust(width) for ln in lines]


def _rule(box: str, widths: list[int]) -> str:
    left, fill, divider, right = box
    return left + divider.join(fill * (w + 2) for w in widths) + right


def _line(box: str, cells: Sequence[str], widths: list[int], right: list[bool]) -> str:
    edge, _, divider, _ = box
    padded = (c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right))
    return edge + divider.join(f" {p} " for p in padded) + edge


def _plain(title: str, caption: str | None, header: Sequence[str], right: list[bool],
           rows: Sequence[Sequence[str]], footer: Sequence[str] | None,
           width: int) -> str | None:
    every = [title, caption or "", *header, *(footer or ()), *(c for r in rows for c in r)]
    if not all(_narrow(t) for t in every):
        return None
    lines = [header, *rows, *([footer] if footer else [])]
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    table_width = sum(widths) + 3 * len(widths) + 1
    if table_width > width:
        return None
    head = _wrap(title, table_width) if title else []
    tail = _wrap(caption, table_width) if caption else []
    if head is None or tail is None:
        return None
    out = [*head, _rule(_TOP, widths), _line(_HEAD, header, widths, right),
           _rule(_HEAD_RULE, widths)]
    out += [_line(_ROW, r, widths, right) for r in rows]
    if footer:
        out += [_rule(_FOOT_RULE, widths), _line(_ROW, footer, widths, right)]
    out += [_rule(_BOTTOM, widths), *tail]
    return "\n".join(out) + "\n"


def _console(width: int):
    """A rich console writing to a string at ``width`` columns, no colour (what the report
    prints on a page or a pipe alike)."""
    from rich.console import Console
    return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)


def _rich(title: str, caption: str | None, header: Sequence[str], right: list[bool],
          rows: Sequence[Sequence[str]], footer: Sequence[str] | None, width: int) -> str:
    from rich.table import Table

    table = Table(title=title or None, caption=caption, show_footer=footer is not None,
                  title_justify="left", caption_justify="left")
    for i, (name, r) in enumerate(zip(header, right)):
        table.add_column(name, justify="right" if r else "left", no_wrap=True,
                         footer=footer[i] if footer else "")
    for row in rows:
        table.add_row(*row)
    console = _console(width)
    console.print(table)
    return console.file.getvalue()


def box_table(title: str, caption: str | None, header: Sequence[str], right: Sequence[bool],
              rows: Sequence[Sequence[str]], footer: Sequence[str] | None = None,
              width: int = 200, force_rich: bool = False) -> str:
    """The table as text, exactly as rich prints it on a ``width``-column page with no
    colour: ``title`` and ``caption`` left-justified above and below, a header row, the
    ``rows``, an optional ``footer`` row; column ``i`` right-justified where ``right[i]``.
    Drawn here when plain (see the module docstring), by rich otherwise or when
    ``force_rich``."""
    right = list(right)
    text = None if force_rich else _plain(title, caption, header, right, rows, footer, width)
    return text if text is not None else _rich(title, caption, header, right, rows, footer, width)


def console_lines(text: str, width: int = 200) -> str:
    """A line of prose as rich's console prints it at ``width`` columns: wrapped at spaces,
    no trailing padding."""
    wrapped = _wrap(text, width) if _narrow(text) else None
    if wrapped is None:
        console = _console(width)
        console.print(text, highlight=False, markup=False)
        return console.file.getvalue()
    return "\n".join(line.rstrip() for line in wrapped) + "\n"
