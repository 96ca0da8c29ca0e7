"""Fire and mobile vocabulary (issue 13c): the papers' notations for SqueezeNet and MobileNet.

* MobileNet v1's Table 1 rows (``conv dw / s1 3×3×32 dw``): :mod:`archdsl.builder.mobile_rows`.
* ``3×3 dw`` (``3×3 conv dw``, ``3×3 depthwise``): a depthwise conv outside the paper form.
* Built-in blocks, one :class:`BlockWord` each in :data:`BLOCK_WORDS`: SqueezeNet's
  ``fire(s1x1, e1x1, e3x3)`` (Table 1's columns) and MobileNet v2's
  ``bottleneck(t, c, n, s)`` (Table 2's columns: expansion, output channels, repeats,
  first stride). Their structure is the block kinds ``fire`` and ``inverted_residual`` in
  :mod:`archdsl.builder.blocks`; here they only become :class:`Layer` records.
* The width multiplier α (``with width multiplier alpha``): :func:`thin` scales the channel
  counts a spec states, rounding by the rule the spec names (:data:`ROUNDING`).

Attributes that depend on the input's channels (``dw``, the ``in`` of a 4-number filter, a
bottleneck's expansion ``t × in``) are resolved when the conv is placed: :func:`placed_conv`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from archdsl.lang import syntax as ast
from archdsl.errors import ArchError, Span
from archdsl.builder.layer import Layer, at_least_one, part_text


# ---- the width multiplier's rounding rules --------------------------------------------
def _whole(x: float) -> int | None:
    """``x`` as an int when it is whole up to float error (30 × 0.3 = 8.999999999999998)."""
    return round(x) if abs(x - round(x)) < 1e-9 else None


def _round_down(x: float) -> int:
    # MobileNet v1's TensorFlow code (slim mobilenet_v1.py): max(int(d * α), min_depth=8),
    # here without its float artefact (int(30 * 0.3) is 8 there). The paper itself states
    # no rule; its α ∈ {0.75, 0.5, 0.25} never needs one.
    w = _whole(x)
    return max(int(x) if w is None else w, 8)


def make_divisible(x: float, divisor: int) -> int:
    """The nearest multiple of ``divisor``, at least ``divisor`` and not below 90 % of ``x``:
    the MobileNet v2 authors' TensorFlow rule, as torchvision's ``_make_divisible``."""
    new = max(divisor, int(x + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * x else new


# ``with round channels down`` / ``with round channels to 8``: the rule's name -> function.
ROUNDING: dict[str, Callable[[float], int]] = {"down": _round_down}


def rounded(c: int, s) -> int | float:
    """Channel count ``c`` thinned by the settings' width multiplier, rounded by their rule
    (a float where no rule is stated and c·α is not whole, for the caller to refuse)."""
    if s.width == 1:
        return c
    x = c * s.width
    if s.round_channels is None:
        w = _whole(x)
        return x if w is None else w
    if isinstance(s.round_channels, int):
        return make_divisible(x, s.round_channels)
    return ROUNDING[s.round_channels](x)


def thin(layers: list[Layer], s) -> list[Layer]:
    """Apply the width multiplier of settings ``s`` to every channel count the ``layers``
    state (convs, the convs of blocks, a 4-number filter's ``in``, a kernel depth); fc
    widths and channel counts derived from the input (dw, expansion) are left alone.
    Refuses a residual bracket of MobileNet v1's rows, which have no shortcuts."""
    for layer in layers:
        if layer.kind == "block" and layer.block_kind == "residual" and s.shortcut != "plain" \
                and any(e.attrs.get("paper_row") for e in layer.entries):
            raise ArchError("MobileNet v1's Table 1 has no shortcuts, but a bracket is a "
                            "residual block", layer.span,
                            hint="for the table's '5×' over two rows, put 'with shortcut plain' "
                                 "on the line before the bracket")
    if s.width == 1:
        return layers
    for layer in layers:
        for conv in [layer, *layer.entries, *(e for br in layer.branches for e in br)]:
            if conv.kind not in ("conv", "fc"):   # an fc row's stated 'in' is thinned too
                continue
            for key in ("out_channels", "depth", "in") if conv.kind == "conv" else ("in",):
                c = conv.attrs.get(key)
                if c is None:
                    continue
                if key == "in":   # the image's channels are not thinned: either may fit
                    conv.attrs[key] = (c[0], rounded(c[0], s))
                    continue
                v = rounded(c, s)
                if not float(v).is_integer():
                    raise ArchError(
                        f"{c} channels × width multiplier {s.width:g} = {v:g} is not a whole "
                        "number", conv.span,
                        hint="state how to round: 'with round channels down' (MobileNet v1's "
                             "TensorFlow code) or 'with round channels to 8' (MobileNet v2, "
                             "torchvision's _make_divisible)")
                conv.attrs[key] = int(v)
    return layers


# ---- convolutions whose channels depend on the input -------------------------------------
def placed_conv(a: dict[str, Any], in_channels: int) -> str | None:
    """Fill in, once the input's channel count is known, what ``dw``, a filter's ``in`` and
    a bottleneck's expansion leave open; the error message where the input does not fit."""
    if a.pop("depthwise", False):
        given = a.get("out_channels")
        if given is not None and given != in_channels:
            return (f"a depthwise conv keeps its {in_channels} input channels, but the filter "
                    f"says {given}: 'dw' cannot change the channel count")
        a["out_channels"] = a["groups"] = in_channels
    t = a.pop("expand", None)
    if t is not None:
        a["out_channels"] = in_channels * t
    return placed_in(a, in_channels)


def placed_in(a: dict[str, Any], received: int) -> str | None:
    """Check (and drop) the ``in`` a row states (``1×1×32×64``, ``fc / s1 1024×1000``):
    as written or thinned by α, since the image's channels are never thinned."""
    stated = a.pop("in", None)
    if stated is not None and received not in stated:
        what = "filter shape says {} input channels" if "kernel" in a else "fc shape says {} inputs"
        return f"the {what.format(stated[-1])}, but its input has {received}"
    return None


def dims_conv(vals: tuple[int, ...], phrase: str, part: ast.Part, nums: list, r, env
              ) -> Layer | None:
    """``3×3 dw`` / ``3×3 conv dw`` / ``3×3 depthwise`` (an optional channel count) or
    ``3×3×32 dw`` (the paper's filter), whose channels must equal the input's; a
    ``k×k×in×out`` filter; None for anything else. ``r`` reads the numbers (a Resolver)."""
    if phrase in ("dw", "conv dw", "depthwise", "depthwise conv"):
        if len(vals) > 3:
            raise ArchError(f"a depthwise filter is k×k×C dw (its channels do not change), not "
                            f"{'×'.join(map(str, vals))}", part.span,
                            hint="e.g. '3×3 dw' or '3×3×32 dw'; a 1×1 conv after it changes "
                                 "the channels")
        attrs = {"kernel": at_least_one("kernel size", vals[:2], part.span), "depthwise": True}
        if len(vals) == 3 and nums:
            raise ArchError("the channels of a k×k×C dw filter are its C", nums[0].span,
                            hint=f"remove the '{r.value(nums[0], env)}'")
        if len(vals) == 3 or nums:   # checked against the input once it is known
            attrs["out_channels"] = at_least_one("channel count", vals[2], part.span) \
                if len(vals) == 3 else r.count(nums[0], env, "channel count")
        return Layer("conv", attrs, part.span)
    if len(vals) == 4 and phrase in ("", "conv"):
        at_least_one("filter shape", vals, part.span)
        return Layer("conv", {"kernel": vals[:2], "out_channels": vals[3], "in": (vals[2],)},
                     part.span)
    return None


# ---- built-in blocks: fire(...), bottleneck(...) -------------------------------------------
@dataclass(frozen=True, slots=True)
class BlockWord:
    """A built-in block written like a call: its parameters (the paper's column names, in
    the table's order) and how their values become the block's layer."""
    kind: str                      # its entry in builder.blocks.KINDS
    params: tuple[str, ...]
    make: Callable[[dict[str, int], Span], Layer]
    repeat: str | None = None      # the parameter that is the block's repeat count
    example: str = ""


def _conv(k: int, attrs: dict, span: Span) -> Layer:
    return Layer("conv", {"kernel": (k, k), **attrs}, span)


def _fire(v: dict[str, int], span: Span) -> Layer:
    # Iandola et al. 2016, Sec. 3.2: squeeze (1×1 filters) feeding expand (1×1 and 3×3
    # filters), the expand outputs concatenated; ReLU after each.
    return Layer("block", {}, span, entries=[_conv(1, {"out_channels": v["s1x1"]}, span)],
                 branches=[[_conv(1, {"out_channels": v["e1x1"]}, span)],
                           [_conv(3, {"out_channels": v["e3x3"]}, span)]],
                 block_name="fire", block_kind="fire")


def _bottleneck(v: dict[str, int], span: Span) -> Layer:
    # Sandler et al. 2018, Table 1: 1×1 expansion to t·k channels, 3×3 depthwise (stride s),
    # linear 1×1 to c. With t = 1 there is nothing to expand: the authors' code and
    # torchvision leave the 1×1 out (its params count would not match otherwise).
    expand = [_conv(1, {"expand": v["t"]}, span)] if v["t"] != 1 else []
    layer = Layer("block", {"stride": (v["s"], v["s"])}, span, repeat=v["n"],
                  entries=expand + [_conv(3, {"depthwise": True}, span),
                                    _conv(1, {"out_channels": v["c"]}, span)],
                  block_name="bottleneck", block_kind="inverted_residual")
    layer.explicit.add("stride")
    return layer


BLOCK_WORDS: dict[str, BlockWord] = {
    "fire": BlockWord("fire", ("s1x1", "e1x1", "e3x3"), _fire, example="fire(16, 64, 64)"),
    "bottleneck": BlockWord("inverted_residual", ("t", "c", "n", "s"), _bottleneck, "n",
                            "bottleneck(t=6, c=24, n=2, s=2)"),
}
BLOCK_WORDS["inverted residual"] = BLOCK_WORDS["bottleneck"]


def block_word(r, phrase: str, part: ast.Part, env) -> Layer | None:
    """A use of a built-in block (``fire(16, 64, 64)``), or None if ``phrase`` names none."""
    bw = BLOCK_WORDS.get(phrase)
    if bw is None or part.args is None:
        if bw is not None:
            raise ArchError(f"'{phrase}' is a block with the parameters "
                            f"{', '.join(bw.params)}", part.span, hint=f"e.g. '{bw.example}'")
        return None
    args = part.args
    if len(args) != len(bw.params):
        raise ArchError(f"{phrase} takes {len(bw.params)} values ({', '.join(bw.params)}) but "
                        f"is given {len(args)}", part.span, hint=f"e.g. '{bw.example}'")
    values: dict[str, int] = {}
    named = False
    for i, arg in enumerate(args):
        name = bw.params[i] if arg.name is None else arg.name
        if name not in bw.params:
            raise ArchError(f"{phrase} has no parameter '{arg.name}'", arg.span,
                            hint=f"its parameters are {', '.join(bw.params)}")
        if name in values:
            raise ArchError(f"{phrase}'s {name} is given twice", arg.span, hint="keep one of them")
        if arg.name is None and named:
            raise ArchError("positional values come before named ones", arg.span,
                            hint=f"e.g. '{bw.example}'")
        named = named or arg.name is not None
        what = f"{phrase}'s {name}"
        # the repeat count is read as a row's ×N is (the --max-repeat budget included)
        values[name] = r._repeat(arg.value, env) if name == bw.repeat else \
            r.count(arg.value, env, what)
    if bw.repeat is not None and part.repeat is not None:
        raise ArchError(f"{phrase}'s {bw.repeat} is already its repeat count", part.repeat.span,
                        hint=f"remove the '×{part_text(ast.Part((part.repeat,), None, None, None, part.span))}' "
                             f"or set {bw.repeat}")
    return bw.make(values, part.span)
