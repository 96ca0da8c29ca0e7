"""The op table: for every IR op, its shape rule, parameter count and multiply-adds.

One table drives shape inference (build), counting (count), lowering and rendering; the
tests check that every op here has an entry in each of those tables. No torch here.

Attribute keys per op (all sizes are (h, w) tuples):
  conv     in_channels, out_channels, kernel, stride, padding, groups, bias, bias_init, init
  bn       channels, eps, momentum
  relu     —
  lrn      size, alpha, beta, k            (alpha as in the AlexNet paper, not divided by size)
  maxpool  kernel, stride, padding
  avgpool  kernel, stride, padding
  gap      —                               (global average pool to 1×1)
  adaptive_avgpool  size
  flatten  —
  fc       in_features, out_features, bias, bias_init, init
  dropout  p
  add      —                               (two inputs: main path, shortcut)
  pad_shortcut  stride, pad_before, pad_after   (option A: subsample, zero-pad channels)
  softmax  —
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from archdsl.ir.graph import Shape, dims_text

Attrs = dict[str, Any]


class ShapeError(Exception):
    """A shape rule failed; ``build`` turns it into a located ArchError."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass(frozen=True, slots=True)
class OpSpec:
    """How one op behaves: output shape, learnable parameters, multiply-adds, depth weight."""
    name: str
    infer: Callable[[Attrs, list[Shape]], Shape]
    params: Callable[[Attrs, list[Shape], Shape], int]
    macs: Callable[[Attrs, list[Shape], Shape], int]
    weighted: bool = False
    summary: str = ""
    attrs: frozenset[str] = frozenset()   # exactly the attribute keys its rules read
    inputs: int = 1                       # how many inputs it takes


def _need_map(op: str, shape: Shape) -> None:
    if len(shape) != 3:
        raise ShapeError(f"{op} needs a C×H×W feature map but its input is flat ({shape[0]} features)",
                         "put it before the flatten / fully connected layers")


def window_output(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a sliding window along one axis (torch's floor rule)."""
    return (size + 2 * padding - kernel) // stride + 1


def _window(op: str, a: Attrs, shape: Shape, out_channels: int) -> Shape:
    _need_map(op, shape)
    _, h, w = shape
    out = []
    for axis, size, k, s, p in zip("HW", (h, w), a["kernel"], a["stride"], a["padding"]):
        if k > size + 2 * p:
            raise ShapeError(f"{op} kernel {k} is larger than its {size}-pixel input"
                             + (f" (padded by {p})" if p else ""),
                             "use a smaller kernel, or remove a downsampling layer before it")
        # A 1×1 stride-2 projection subsamples by design; only windows at least as wide as
        # their stride (AlexNet's 11×11/4, a 2×2/2 pool) lose real input at the border.
        if p == 0 and k >= s and (size - k) % s:
            fix_in = size + (-(size - k)) % s
            target = (fix_in - k) // s + 1
            fix_pad = next(q for q in range(1, k + 1) if window_output(size, k, s, q) == target)
            raise ShapeError(
                f"{k}×{k} window with stride {s} does not tile the {size}×{size} input "
                f"(({size} − {k}) / {s} = {(size - k) / s:g}); the last {(size - k) % s} "
                f"pixel{'s' if (size - k) % s > 1 else ''} would be dropped",
                f"use input {fix_in}×{fix_in}, or 'padding {fix_pad}' (either gives {target}×{target})")
        out.append(window_output(size, k, s, p))
    return (out_channels, out[0], out[1])


def _conv_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    shape = shapes[0]
    _need_map("conv", shape)
    c, g = shape[0], a["groups"]
    if c != a["in_channels"]:
        raise ShapeError(f"conv expects {a['in_channels']} input channels but gets {c}")
    if c % g or a["out_channels"] % g:
        raise ShapeError(f"groups {g} must divide both the {c} input and the {a['out_channels']} "
                         "output channels", f"use a group count that divides {c} and {a['out_channels']}")
    return _window("conv", a, shape, a["out_channels"])


def _conv_params(a: Attrs, shapes: list[Shape], out: Shape) -> int:
    kh, kw = a["kernel"]
    w = a["out_channels"] * (a["in_channels"] // a["groups"]) * kh * kw
    return w + (a["out_channels"] if a["bias"] else 0)


def _conv_macs(a: Attrs, shapes: list[Shape], out: Shape) -> int:
    kh, kw = a["kernel"]
    return out[0] * out[1] * out[2] * (a["in_channels"] // a["groups"]) * kh * kw


def _same(a: Attrs, shapes: list[Shape]) -> Shape:
    return shapes[0]


def _map_same(op: str) -> Callable[[Attrs, list[Shape]], Shape]:
    def infer(a: Attrs, shapes: list[Shape]) -> Shape:
        _need_map(op, shapes[0])
        return shapes[0]
    return infer


def _bn_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    _need_map("batchnorm", shapes[0])
    if shapes[0][0] != a["channels"]:
        raise ShapeError(f"batchnorm expects {a['channels']} channels but gets {shapes[0][0]}")
    return shapes[0]


def _pool_shape(op: str) -> Callable[[Attrs, list[Shape]], Shape]:
    def infer(a: Attrs, shapes: list[Shape]) -> Shape:
        return _window(op, a, shapes[0], shapes[0][0])
    return infer


def _gap_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    _need_map("global average pool", shapes[0])
    return (shapes[0][0], 1, 1)


def _adaptive_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    _need_map("adaptive average pool", shapes[0])
    return (shapes[0][0], *a["size"])


def _flatten_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    n = 1
    for d in shapes[0]:
        n *= d
    return (n,)


def _fc_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    shape = shapes[0]
    if len(shape) != 1:
        raise ShapeError(f"fully connected layer after an unflattened {dims_text(shape)} map",
                         "insert 'flatten' (or a global 'average pool') before it")
    if shape[0] != a["in_features"]:
        raise ShapeError(f"fc expects {a['in_features']} input features but gets {shape[0]}")
    return (a["out_features"],)


def _fc_params(a: Attrs, shapes: list[Shape], out: Shape) -> int:
    return a["in_features"] * a["out_features"] + (a["out_features"] if a["bias"] else 0)


def _fc_macs(a: Attrs, shapes: list[Shape], out: Shape) -> int:
    return a["in_features"] * a["out_features"]


def _add_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    main, short = shapes
    if main != short:
        what = "channels" if main[0] != short[0] else "spatial size"
        # Shortcuts follow the block's stride, so a size mismatch comes from the branch's
        # padding or kernels, which no shortcut option can fix.
        hint = ("use a projection shortcut ('with shortcut B') or zero-padding ('with shortcut A')"
                if what == "channels" else
                "keep the block's convolutions 'same'-padded (the default): only a stride may "
                "shrink a block's output")
        raise ShapeError(
            f"residual addition mismatch in {what}: the block gives {dims_text(main)} "
            f"but its shortcut gives {dims_text(short)}", hint)
    return main


def _pad_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    c, h, w = shapes[0]
    s = a["stride"]
    return (c + a["pad_before"] + a["pad_after"], -(-h // s), -(-w // s))


def _zero(a: Attrs, shapes: list[Shape], out: Shape) -> int:
    return 0


_WINDOW = frozenset({"kernel", "stride", "padding"})
_DENSE = frozenset({"bias", "bias_init", "init"})

OPS: dict[str, OpSpec] = {o.name: o for o in (
    OpSpec("conv", _conv_shape, _conv_params, _conv_macs, True, "convolution",
           _WINDOW | _DENSE | {"in_channels", "out_channels", "groups"}),
    OpSpec("bn", _bn_shape, lambda a, s, o: 2 * a["channels"], _zero, summary="batch normalisation",
           attrs=frozenset({"channels", "eps", "momentum"})),
    OpSpec("relu", _same, _zero, _zero, summary="ReLU"),
    OpSpec("lrn", _map_same("LRN"), _zero, _zero, summary="local response normalisation",
           attrs=frozenset({"size", "alpha", "beta", "k"})),
    OpSpec("maxpool", _pool_shape("max pool"), _zero, _zero, summary="max pooling", attrs=_WINDOW),
    OpSpec("avgpool", _pool_shape("average pool"), _zero, _zero, summary="average pooling",
           attrs=_WINDOW),
    OpSpec("gap", _gap_shape, _zero, _zero, summary="global average pooling"),
    OpSpec("adaptive_avgpool", _adaptive_shape, _zero, _zero, summary="adaptive average pooling",
           attrs=frozenset({"size"})),
    OpSpec("flatten", _flatten_shape, _zero, _zero, summary="flatten"),
    OpSpec("fc", _fc_shape, _fc_params, _fc_macs, True, "fully connected",
           _DENSE | {"in_features", "out_features"}),
    OpSpec("dropout", _same, _zero, _zero, summary="dropout", attrs=frozenset({"p"})),
    OpSpec("add", _add_shape, _zero, _zero, summary="residual addition", inputs=2),
    OpSpec("pad_shortcut", _pad_shape, _zero, _zero, summary="zero-padding identity shortcut (option A)",
           attrs=frozenset({"stride", "pad_before", "pad_after"})),
    OpSpec("softmax", _same, _zero, _zero, summary="soft-max"),
)}


def infer_shape(op: str, a: Attrs, shapes: list[Shape]) -> Shape:
    """Output shape of ``op`` with attributes ``a`` on inputs ``shapes``; raises ShapeError."""
    return OPS[op].infer(a, shapes)
