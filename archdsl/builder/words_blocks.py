"""Rows of a bracket that are not its convolutions (#13a): the SE paper's gate row
``fc, [16, 256]`` and ``dropout 0.3`` between two convolutions (WRN), and activation words
(``relu6``) standing as layers of their own.

A bracket is a residual block by default. The SE row is the SE paper's own notation for its
gate, so writing it is what declares the gate; any other fc row in a bracket is an error
whose hint shows that notation, rather than a block silently read as something else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from archdsl.lang import syntax as ast
from archdsl.errors import ArchError, Span
from archdsl.builder.layer import Layer, lower_words, part_text

_FC = re.compile(r"fc-?\d*$")


@dataclass
class BlockExtras:
    """What a bracket's non-conv rows add to its block, collected while its entries are read."""
    dropout: tuple[float, Span] | None = None    # waiting for the next conv
    se: tuple[int, int, Span] | None = None      # the gate's two fc widths (C/r, C)

    def attach(self, conv: Layer) -> None:
        """Give ``conv`` the dropout written before it."""
        if self.dropout is not None:
            conv.attrs["dropout"] = self.dropout[0]
            self.dropout = None

    def finish(self, block: Layer) -> Layer:
        """The block with its gate; refuses a dropout row with no conv after it."""
        if self.dropout is not None:
            raise ArchError("a dropout row ends the block, but dropout goes before a convolution",
                            self.dropout[1], hint="write it between two convolutions, as WRN "
                            "does: '[3×3, 160; dropout 0.3; 3×3, 160]'")
        if self.se is not None:
            hidden, width, span = self.se
            last = block.entries[-1].attrs.get("out_channels")
            if isinstance(last, int) and width != last:
                raise ArchError(f"the SE row's second width {width} is not the block's {last} "
                                "output channels", span,
                                hint=f"the gate's fcs are C/r then C: 'fc, [{max(last // 16, 1)}, "
                                     f"{last}]' (reduction r = 16)")
            if hidden > width:
                raise ArchError(f"the SE row squeezes {width} channels to {hidden}, more than "
                                "it has", span, hint=f"the first width is C/r: 'fc, "
                                f"[{max(width // 16, 1)}, {width}]' (reduction r = 16)")
            block.attrs["se"] = (hidden, width)
        return block


def read_extra(numbers: Any, entry: tuple[ast.Part, ...], env, extra: BlockExtras, last: bool,
               convs: list[Layer]) -> bool:
    """Read ``entry`` of a bracket into ``extra`` if it is an SE or dropout row (True), else
    leave it to be read as a convolution (False)."""
    head = entry[0]
    words = lower_words(head.atoms)
    if head.bracket is None and words and head.atoms and isinstance(head.atoms[0], ast.Word) \
            and (_FC.match(words[0]) or words[0] == "fully"):
        _se_row(numbers, entry, env, extra, last, convs)
        return True
    if words[:1] == ["dropout"] and isinstance(head.atoms[0], ast.Word):
        [layer] = numbers.layers(entry, env)
        if layer.repeat != 1:
            raise ArchError("a dropout row in a block is not repeated", head.span)
        if extra.dropout is not None:
            raise ArchError("two dropout rows in a row", head.span,
                            notes=(("the first is here", extra.dropout[1]),),
                            hint="keep one; dropout goes between two convolutions")
        extra.dropout = (layer.attrs["p"], head.span)
        return True
    return False


def _se_row(numbers, entry, env, extra: BlockExtras, last: bool, convs: list[Layer]) -> None:
    head = entry[0]
    span = Span(head.span.file, head.span.line, head.span.col, entry[-1].span.end_line,
                entry[-1].span.end_col)
    example = "'[1×1, 64; 3×3, 64; 1×1, 256; fc, [16, 256]]'"
    if len(entry) != 2 or entry[1].bracket is None or len(head.atoms) != 1:
        raise ArchError(f"an fc row inside a block is an SE gate, written as the SE paper "
                        f"writes it: 'fc, [C/r, C]', not '{', '.join(part_text(p) for p in entry)}'",
                        span, hint=f"e.g. {example}; an fc layer of the network goes after the "
                                   "blocks, outside the brackets")
    widths = entry[1].bracket.entries
    if len(widths) != 1 or len(widths[0]) != 2 or entry[1].repeat is not None \
            or any(p.bracket is not None or p.repeat is not None or len(p.atoms) != 1
                   for p in widths[0]):
        raise ArchError("an SE row gives two fc widths: 'fc, [C/r, C]'", entry[1].span,
                        hint=f"e.g. {example} (reduction r = 16)")
    if not last:
        raise ArchError("the SE row must be the block's last row: the gate scales the branch "
                        "after its last convolution", span, hint=f"move it to the end: {example}")
    if not convs:
        raise ArchError("an SE gate needs convolutions before it in the block", span,
                        hint=f"e.g. {example}")
    hidden, width = (numbers.count(p.atoms[0], env, "SE fc width") for p in widths[0])
    extra.se = (hidden, width, span)


def standalone_activation(part: ast.Part, before: list[Layer]) -> Layer | None:
    """``relu6`` or ``leaky relu 0.1`` as a layer of its own: where no conv or fc comes
    right before it to take it as its activation."""
    from archdsl.builder.modifiers import _activation
    act = _activation(part)
    if act is None or act[0] is None or (before and before[-1].kind in ("conv", "fc")):
        return None
    return Layer(act[0], dict(act[1]), part.span)


def se_outside_block(part: ast.Part, rest: tuple[ast.Part, ...]) -> None:
    """Refuse the SE row ``fc, [16, 256]`` written outside a bracket."""
    if lower_words(part.atoms) == ["fc"] and len(part.atoms) == 1 and part.bracket is None \
            and rest and rest[0].bracket is not None:
        raise ArchError("'fc, [C/r, C]' is the SE paper's gate row: it belongs inside a block, "
                        "after the block's last convolution", part.span,
                        hint="e.g. '[1×1, 64; 3×3, 64; 1×1, 256; fc, [16, 256]] ×3'; an fc layer "
                             "of the network is 'fc 10' or '10-d fc'")


def spaced_width_hint(entry: tuple[ast.Part, ...]) -> str | None:
    """The hint for a block entry whose channel count is repeated (``3×3, 16 ×k``): the
    width factor is written without spaces."""
    for p in entry[1:]:
        if p.repeat is not None and len(p.atoms) == 1 and isinstance(p.atoms[0], ast.Num):
            return (f"'{part_text(p)} ×{ast.atom_text(p.repeat)}' repeats the conv; a width "
                    f"factor is written without a space: '{part_text(p)}×"
                    f"{ast.atom_text(p.repeat)}' (WRN's 16×k)")
    return None


def width_factor(numbers: Any, product: ast.Product, factor: ast.Atom, env, what: str):
    """The value of one factor of a product; an unknown name in a width (``16×k``) gets a
    hint to declare the width factor."""
    try:
        return numbers.value(factor, env, what)
    except ArchError as e:
        if product.sep == "×" and isinstance(factor, ast.Word):
            e.hint = (f"'{ast.atom_text(product)}' is {ast.atom_text(product.factors[0])} times "
                      f"the width factor '{factor.text}': declare it, e.g. 'param {factor.text} "
                      "= 4'")
        raise
