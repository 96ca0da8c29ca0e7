"""MobileNet v1's Table 1 rows as printed (issue 13c): ``Type / Stride`` and ``Filter Shape``.

``conv / s2 3×3×3×32`` (a k×k×in×out filter), ``conv dw / s1 3×3×32 dw`` (a depthwise
filter, one per input channel: C = in = out), ``avg pool / s1 pool 7×7``,
``fc / s1 1024×1000`` and ``softmax / s1 classifier``; ``sN`` is the stride. The ``in`` of
a filter or fc row is checked once placed (:func:`archdsl.builder.mobile.placed_in`).
One row function per type in :data:`_ROWS`.
"""
from __future__ import annotations

from typing import Any, Callable

from archdsl.lang import syntax as ast
from archdsl.errors import ArchError
from archdsl.builder.layer import Layer, at_least_one, lower_words, part_text


def paper_row(r, atoms: list, part: ast.Part, env) -> Layer | None:
    """A row in the ``Type / Stride | Filter Shape`` notation of MobileNet v1's Table 1, or
    None when ``atoms`` are not one (no ``/``). ``r`` reads numbers (a Resolver)."""
    slash = next((i for i, a in enumerate(atoms) if isinstance(a, ast.Word) and a.text == "/"),
                 None)
    if slash is None:
        return None
    kind = " ".join(lower_words(atoms[:slash]))
    row = _ROWS.get(kind) if len(lower_words(atoms[:slash])) == slash else None
    if row is None:
        raise ArchError(f"'{part_text(part)}': Table 1's 'Type / sN' rows are {', '.join(_ROWS)}",
                        part.span, hint="write 'conv / s1 1×1×32×64' or 'conv dw / s1 3×3×32 dw'")
    rest = atoms[slash + 1:]
    stride = rest[0] if rest else None
    if not (isinstance(stride, ast.Word) and stride.text[:1] in "sS" and stride.text[1:].isdigit()):
        raise ArchError("the stride column is written 's1' or 's2' after the '/'",
                        (stride or atoms[slash]).span, hint="e.g. 'conv / s2 3×3×3×32'")
    s = at_least_one("stride", int(stride.text[1:]), stride.span)
    layer = row(kind, s, stride, rest[1:], part)
    if layer.kind == "conv":   # read by thin(): Table 1 rows in a residual bracket
        layer.attrs["paper_row"] = True
    if s != 1:   # '/ s1' states the default: allowed inside a block, whose stride is its own
        layer.explicit.add("stride")
    return layer


def _after(what: str, example: str, stride: ast.Word, rest: list, words: list[str]) -> ast.Dims:
    """The sizes after ``/ sN`` (``3×3×32``), followed by nothing but ``words``."""
    if not rest or not isinstance(rest[0], ast.Dims):
        raise ArchError(f"{what} follows the stride, like {example}", stride.span)
    tail = rest[1:]
    if [a.text.lower() if isinstance(a, ast.Word) else None for a in tail] not in (
            [], words):
        shown = " ".join(a.text if isinstance(a, ast.Word) else "…" for a in tail)
        raise ArchError(f"unexpected '{shown}' after the {what.split(' ', 1)[-1]}", tail[0].span,
                        hint=f"the row ends with it, like '{example}'")
    return rest[0]


def _conv_row(kind: str, s: int, stride: ast.Word, rest: list, part: ast.Part) -> Layer:
    # ``conv / s1 1×1×32×64`` (k×k×in×out) and ``conv dw / s1 3×3×32 dw`` (k×k×C)
    dw = kind != "conv"
    filt = _after("a filter shape", "3×3×32 dw" if dw else "1×1×32×64", stride, rest,
                  ["dw"])
    if dw != (len(rest) > 1):
        raise ArchError("the type column and the filter shape disagree about 'dw'", filt.span,
                        hint="a depthwise row says it twice, as the paper does: "
                             "'conv dw / s1 3×3×32 dw'; a full conv: 'conv / s1 1×1×32×64'")
    v = filt.values
    if dw and len(v) != 3:
        raise ArchError(f"a depthwise filter is k×k×C dw (its channels do not change), not "
                        f"{'×'.join(map(str, v))}", filt.span,
                        hint=f"write {v[0]}×{v[1]}×{v[2]} dw and put the channel change in the "
                             "next 1×1 conv" if len(v) == 4 else "e.g. 3×3×32 dw")
    if not dw and len(v) != 4:
        raise ArchError(f"a conv's filter shape is k×k×in×out (four numbers), not "
                        f"{'×'.join(map(str, v))}", filt.span,
                        hint="e.g. 1×1×32×64 (MobileNet v1's Table 1)")
    at_least_one("filter shape", v, filt.span)
    attrs: dict[str, Any] = {"kernel": (v[0], v[1]), "stride": (s, s)}
    if dw:
        attrs.update(out_channels=v[2], depthwise=True)
    else:
        attrs.update(out_channels=v[3], **{"in": (v[2],)})
    return Layer("conv", attrs, part.span)


def _pool_row(kind: str, s: int, stride: ast.Word, rest: list, part: ast.Part) -> Layer:
    # ``avg pool / s1 pool 7×7``: the Filter Shape column says "Pool 7 × 7"
    if rest and isinstance(rest[0], ast.Word) and rest[0].text.lower() == "pool":
        rest = rest[1:]
    win = _after("a window size", "avg pool / s1 pool 7×7", stride, rest, [])
    if len(win.values) != 2:
        raise ArchError("a pool's window is k×k", win.span, hint="e.g. 'avg pool / s1 pool 7×7'")
    k = at_least_one("window size", win.values, win.span)
    return Layer("avgpool", {"kernel": k, "stride": (s, s)}, part.span)


def _fc_row(kind: str, s: int, stride: ast.Word, rest: list, part: ast.Part) -> Layer:
    # ``fc / s1 1024×1000``: in × out, the input checked when placed
    shape = _after("an in×out shape", "fc / s1 1024×1000", stride, rest, [])
    if len(shape.values) != 2 or s != 1:
        raise ArchError("an fc row is 'fc / s1 in×out'", shape.span if s == 1 else stride.span,
                        hint="e.g. 'fc / s1 1024×1000'")
    v = at_least_one("fc shape", shape.values, shape.span)
    return Layer("fc", {"out_features": v[1], "in": (v[0],)}, part.span)


def _softmax_row(kind: str, s: int, stride: ast.Word, rest: list, part: ast.Part) -> Layer:
    # ``softmax / s1 classifier``: the Filter Shape column says "Classifier"
    if [a.text.lower() if isinstance(a, ast.Word) else None for a in rest] not in (
            [], ["classifier"]) or s != 1:
        raise ArchError("a soft-max row is 'softmax / s1 classifier'", part.span)
    return Layer("softmax", {}, part.span)


_ROWS: dict[str, Callable[..., Layer]] = {
    "conv": _conv_row, "conv dw": _conv_row, "conv depthwise": _conv_row,
    "avg pool": _pool_row, "fc": _fc_row, "softmax": _softmax_row}
