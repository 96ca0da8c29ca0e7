"""The :class:`Layer` record a row's parts resolve to, and the small readers of parts that
the layer vocabulary (:mod:`archdsl.builder.words`) and the modifiers (:mod:`archdsl.builder.modifiers`)
share: a part as written, its words, a size of at least 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archdsl.lang import syntax as ast
from archdsl.errors import ArchError, Span
from archdsl.ir.graph import dims_text
from archdsl.lang.syntax import atom_text


@dataclass
class Layer:
    """One resolved layer description: ``kind`` (an op or ``block``), attributes, repeat."""
    kind: str
    attrs: dict[str, Any]
    span: Span
    repeat: int = 1
    explicit: set[str] = field(default_factory=set)     # attrs the user stated (stride, padding…)
    entries: list["Layer"] = field(default_factory=list)  # the convs of a block
    block_name: str | None = None
    block_span: Span | None = None                      # where a named block was defined
    block_kind: str = "residual"                        # its entry in builder.blocks.KINDS
    # a block's parallel paths when it has several; empty: ``entries`` is its one path
    branches: list[list["Layer"]] = field(default_factory=list)


def at_least_one(what: str, value, span: Span):
    """``value`` (a number or a size tuple) if every number in it is at least 1, else an error."""
    values = value if isinstance(value, tuple) else (value,)
    if min(values) < 1:
        shown = dims_text(values)
        raise ArchError(f"{what} must be at least {'×'.join(['1'] * len(values))}, not {shown}", span)
    return value


def lower_words(atoms) -> list[str]:
    """The words among ``atoms``, lower-cased (``Max``, ``pool`` -> ``max``, ``pool``)."""
    return [a.text.lower() for a in atoms if isinstance(a, ast.Word)]


def part_text(part: ast.Part) -> str:
    """A part's atoms as written, for a message (``[…]`` for a bare bracket)."""
    return " ".join(atom_text(a) for a in part.atoms) or "[…]"
