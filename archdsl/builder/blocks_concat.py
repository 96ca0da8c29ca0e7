"""Concatenating block kinds (#13b): DenseNet's dense layer and GoogLeNet's inception module.

Data for :data:`archdsl.builder.blocks.KINDS`, read by the generic expander there:

- ``dense``: Huang et al. 2017's composite layer H (BN → ReLU → conv, twice), whose output
  is concatenated onto its input (``cat(x, new)``: the shortcut comes first, as in
  torchvision's ``_DenseLayer``). Entries written without a width (the paper's
  ``[1×1 conv; 3×3 conv]``) take it from the growth rate k: 4k for the bottleneck, k for the
  last conv (DenseNet-B, Sec. 3).
- ``inception``: Szegedy et al. 2015's module: four parallel branches whose widths are the
  six columns of the paper's Table 1 (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5,
  pool proj), concatenated. ``with inception 3×3 for 5×5`` is torchvision's variant.
"""
from __future__ import annotations

import dataclasses
from archdsl.builder.layer import Layer
from archdsl.errors import ArchError, Span

# Hints for a conv written without a width where none is implied: the DenseNet notations.
TRANSITION_HINT = ("give the number of filters, e.g. '1×1, 128'; a DenseNet transition's '1×1 "
                   "conv' keeps θ of its input channels with 'with compression 0.5'")
DENSE_HINT = ("give the number of filters, e.g. '3×3, 64'; DenseNet's '[1×1 conv; 3×3 conv]' "
              "is a dense block: title the stage 'Dense Block (1)' or write 'with dense "
              "blocks, growth rate 32'")

INCEPTION_COLUMNS = ("#1×1", "#3×3 reduce", "#3×3", "#5×5 reduce", "#5×5", "pool proj")


def kinds(BlockKind, Shortcut, Tap) -> tuple:
    """The kinds, made with :mod:`archdsl.builder.blocks`' classes (passed in, so that this
    module does not import the one that imports it)."""
    keep = Shortcut("identity", "identity")   # the input itself is concatenated
    return (
        BlockKind("dense", entry=("bn", "relu", "conv"), shortcut=keep, merge="concat",
                  shortcut_first=True, implied=(4, 1), strides=False, template="dense_layer"),
        BlockKind("inception", entry=("conv", "bn", "relu"), merge="concat",
                  columns=INCEPTION_COLUMNS, template="inception",
                  taps=((Tap("conv", 1, 0),),
                        (Tap("conv", 1, 1), Tap("conv", 3, 2)),
                        (Tap("conv", 1, 3), Tap("conv", 5, 4, setting="inception_5x5")),
                        (Tap("maxpool", 3), Tap("conv", 1, 5)))),
    )



def implied_width(kind, entry: Layer, last: bool, b) -> Layer:
    """``entry`` with the width its kind implies (``1×1 conv`` in a dense layer: 4k)."""
    growth = b.s.growth
    if kind.implied is None:
        b.site.fail(ArchError("convolution without a channel count", entry.span,
                              hint="give the number of filters, e.g. '3×3, 64'"))
    if growth is None:
        b.site.fail(ArchError("a dense layer's convolutions without widths need the growth "
                              "rate", entry.span,
                              hint="add 'with growth rate 32' (DenseNet's k: 4k for the 1×1, "
                                   "k for the 3×3), or give each conv its width"))
    width = growth * kind.implied[1 if last else 0]
    return dataclasses.replace(entry, attrs={**entry.attrs, "out_channels": width})


def shrink_error(cin: int, cout: int, span: Span, notes) -> ArchError:
    """A residual block whose branch gives fewer channels than it takes: what a DenseNet
    table means by its bracket, never what a ResNet does."""
    return ArchError(
        f"a residual block cannot shrink {cin} channels to {cout}: its branch would be added "
        f"to a projection of the input", span, notes=notes,
        hint="a DenseNet bracket concatenates its output onto its input: title the stage "
             "'Dense Block (1)' or write 'with dense blocks' (and 'growth rate k')")


def unstrided_error(kind, in_shape, stride: int, span: Span) -> ArchError:
    """A dense block asked to downsample: its output is concatenated onto its input."""
    h, w = in_shape[1:]
    return ArchError(
        f"a {kind.name} block keeps its input's size ({h}×{w}): it is concatenated onto its "
        f"input, so it cannot downsample by {stride}", span,
        hint="downsample in a transition layer before it ('2×2 average pool, stride 2'), or "
             "declare the stage's size as its input's")


def column_name(column: str) -> str:
    """A column heading as an argument name: ``#3×3 reduce`` → ``n3x3_reduce``."""
    return ("n" + column[1:] if column.startswith("#") else column).replace("×", "x") \
        .replace(" ", "_")


def row_use(kind, part, count, settings) -> Layer:
    """``inception(64, 96, 128, 16, 32, 32)``: one block of a row kind, its widths given
    column by column in the paper's order (names optional: ``pool_proj=32``). ``count``
    reads a positive whole number from an atom: ``count(atom, what)``."""
    cols, args = kind.columns, part.args or ()
    names = [column_name(c) for c in cols]
    if len(args) != len(cols):
        raise ArchError(f"an {kind.name} row has {len(cols)} columns ({', '.join(cols)}), "
                        f"but {len(args)} {'is' if len(args) == 1 else 'are'} given",
                        part.span, hint=f"write {kind.name}({', '.join(names)}), e.g. "
                                        f"{kind.name}(64, 96, 128, 16, 32, 32): Table 1 of "
                                        "Szegedy et al. 2015, inception (3a)")
    widths = []
    for name, arg in zip(names, args):
        if arg.name is not None and arg.name != name:
            raise ArchError(f"column {len(widths) + 1} of an {kind.name} row is '{name}', "
                            f"not '{arg.name}'", arg.span,
                            hint=f"the columns in order: {', '.join(names)}")
        widths.append(count(arg.value, f"{kind.name} width '{name}'"))
    return row_layer(kind, widths, settings, part.span)


def row_layer(kind, widths: list[int], settings, span: Span) -> Layer:
    """The block a row kind's use stands for, from its column widths."""
    branches = []
    for taps in kind.taps:
        path = []
        for t in taps:
            k = getattr(settings, t.setting) if t.setting and settings is not None else t.kernel
            if t.op == "conv":
                path.append(Layer("conv", {"kernel": (k, k), "out_channels": widths[t.column]},
                                  span))
            else:   # the pool proj branch's 3×3 max pool, stride 1, size-preserving
                path.append(Layer(t.op, {"kernel": (k, k), "stride": (1, 1),
                                         "padding": (k // 2, k // 2)}, span))
        branches.append(path)
    return Layer("block", {}, span, entries=branches[0], block_kind=kind.name,
                 branches=branches)
