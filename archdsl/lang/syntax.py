"""Frozen AST of a spec file. Built by :mod:`archdsl.lang.parser`; interpreted by :mod:`archdsl.builder.build`.

The AST mirrors the surface syntax and keeps every token's :class:`~archdsl.errors.Span`.
It holds no meaning: which words are layers, which parts are modifiers, what a number
stands for — all of that is decided in ``build``.
"""
from __future__ import annotations

from dataclasses import dataclass

from archdsl.errors import Span


# ---- atoms: the tokens a layer description is made of -------------------------------
@dataclass(frozen=True, slots=True)
class Word:
    """A bare word: a layer word (``conv3-64``, ``maxpool``), a modifier or a parameter name."""
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Num:
    """A number as written; ``value`` is an int when the text has no point or exponent."""
    value: int | float
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Dims:
    """``7×7``, ``3×224×224``: numbers joined by × or x."""
    values: tuple[int, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class FcDim:
    """``1000-d`` as in ResNet's ``1000-d fc``."""
    value: int
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    """``depths[2]``: an element of a list parameter."""
    name: str
    index: int
    span: Span


@dataclass(frozen=True, slots=True)
class Product:
    """``4*c``: a product of numbers and parameter references. ``sep`` is how it was
    written: ``*``, or ``×`` for a width factor (WRN's ``16×k``)."""
    factors: tuple["Atom", ...]
    span: Span
    sep: str = "*"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """``C=32`` (ResNeXt's cardinality): a named value written as a part of its own."""
    name: str
    value: "Atom"
    span: Span


Atom = Word | Num | Dims | FcDim | Index | Product | KeyValue


def atom_text(a: Atom) -> str:
    """An atom as canonical text, which is also how messages quote it: ``3×3``, ``1000-d``,
    ``depths[1]``, ``4*c``."""
    if isinstance(a, (Word, Num)):
        return a.text
    if isinstance(a, Dims):
        return "×".join(map(str, a.values))
    if isinstance(a, FcDim):
        return f"{a.value}-d"
    if isinstance(a, Index):
        return f"{a.name}[{a.index}]"
    if isinstance(a, Product):
        return a.sep.join(atom_text(f) for f in a.factors)
    if isinstance(a, KeyValue):
        return f"{a.name}={atom_text(a.value)}"
    raise TypeError(f"not an atom: {a!r}")


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument in parentheses: positional (``name is None``) or ``name=value``."""
    name: str | None
    value: Atom
    span: Span


@dataclass(frozen=True, slots=True)
class Bracket:
    """A bracketed block ``[3×3, 64; 3×3, 64]``: entries separated by ``;`` or newlines."""
    entries: tuple[tuple["Part", ...], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Part:
    """One comma-separated item: atoms with optional ``(args)``, or a bracket; optional ``×N``."""
    atoms: tuple[Atom, ...]
    args: tuple[Arg, ...] | None
    bracket: Bracket | None
    repeat: Atom | None
    span: Span


# ---- statements ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Network:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Input:
    dims: Dims
    span: Span


@dataclass(frozen=True, slots=True)
class Classes:
    value: Atom
    span: Span


@dataclass(frozen=True, slots=True)
class ListValue:
    """``[3, 4, 6, 3]`` as a parameter value."""
    items: tuple[Num, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Param:
    """``param n = 3``: a named parameter with its default, overridable with ``-D``."""
    name: str
    value: Num | ListValue
    span: Span


@dataclass(frozen=True, slots=True)
class Alias:
    """``alias resnet56: n = 9``: a named member of the family this file defines."""
    name: str
    bindings: tuple[tuple[str, Num | ListValue, Span], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class With:
    """``with shortcut B, batchnorm``: settings for the whole network or for one stage."""
    parts: tuple[Part, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class BlockDef:
    """``block bottleneck(c) = [1×1, c; 3×3, c; 1×1, 4*c]``: a reusable residual block."""
    name: str
    params: tuple[str, ...]
    body: Bracket
    span: Span


@dataclass(frozen=True, slots=True)
class Row:
    """One line of layer descriptions, ``3×3 max pool, stride 2``."""
    parts: tuple[Part, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Stage:
    """A table row group: ``conv2_x 56×56:`` followed by its rows and stage settings.

    ``title``: the header as the paper prints it (``Dense Block (1)``), when it is one; then
    ``name`` is the identifier made from it (``dense_block_1``)."""
    name: Word | None
    size: Dims | None
    body: tuple[Row | With, ...]
    span: Span
    title: str | None = None


Statement = Network | Input | Classes | Param | Alias | With | BlockDef | Stage | Row


@dataclass(frozen=True, slots=True)
class Spec:
    """A parsed spec file: its statements in order, and the source they came from."""
    statements: tuple[Statement, ...]
    file: str
    source: str
