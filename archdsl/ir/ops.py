"""The op table: every per-op fact of the front end, one :class:`OpSpec` per IR op.

Nothing else in the front end knows ops by name: shape inference (build, count, lint),
counting, attribute validation (lint, ir.yaml) and node naming all read this table. The
torch half is :mod:`archdsl.lowering.torch_ops`, keyed the same (a test holds the two to the
same keys). No torch here.

Attributes (all window sizes are (h, w) tuples; see each entry's schema below):
  conv     in_channels, out_channels, kernel, stride, padding, groups, bias, bias_init, init;
           optional dilation (default (1, 1))
  bn       channels, eps, momentum
  lrn      size, alpha, beta, k            (alpha as in the AlexNet paper, not divided by size)
  maxpool, avgpool  kernel, stride, padding; optional ceil_mode (default False)
  adaptive_avgpool  size
  fc       in_features, out_features, bias, bias_init, init
  dropout  p
  pad_shortcut  stride, pad_before, pad_after   (option A: subsample, zero-pad channels)
  leaky_relu    negative_slope
  relu, relu6, sigmoid, silu, identity, gap, flatten, softmax, add, concat, mul: none
Inputs: ``add`` (main path, shortcut), ``mul`` (x, gate), ``concat`` two or more (channel
axis); every other op one.

An optional attribute at its default is absent from a node's attrs, so a network that does
not use it has the same IR as before the attribute existed; the rules see it filled in.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from math import ceil, floor, prod
from typing import Any, Callable

Shape = tuple[int, ...]
"""Per-sample shape, batch excluded: ``(C, H, W)`` for maps, ``(F,)`` after flatten."""

Attrs = dict[str, Any]
ShapeRule = Callable[[Attrs, list[Shape]], Shape]
CountRule = Callable[[Attrs, list[Shape], Shape], int]


def dims_text(shape: tuple[int, ...]) -> str:
    """A shape or size as the papers print it: ``3×224×224``, ``56×56``."""
    return "×".join(map(str, shape))


class ShapeError(Exception):
    """A shape rule failed; callers turn it into a located ArchError."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


# ---- attribute types ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Type:
    """An attribute's value type: which values it admits and how an error names it."""
    text: str
    admits: Callable[[Any], bool] = field(repr=False)


def _is_int(v: Any, least: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= least


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _pair(least: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, tuple) and len(v) == 2 and all(_is_int(x, least) for x in v)


_INIT = re.compile(r"he|torch|normal\(((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\)")


def init_scheme(text: Any) -> tuple[str, float | None] | None:
    """``("he"|"torch", None)`` or ``("normal", σ)`` for an ``init`` attribute, None if it is
    not one (the INIT type admits exactly these)."""
    m = _INIT.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        return None
    return ("normal", float(m.group(1))) if m.group(1) else (text, None)


POSITIVE = Type("an integer ≥ 1", lambda v: _is_int(v, 1))
NATURAL = Type("an integer ≥ 0", lambda v: _is_int(v, 0))
POSITIVE_PAIR = Type("a pair of integers ≥ 1", _pair(1))
NATURAL_PAIR = Type("a pair of integers ≥ 0", _pair(0))
NONNEGATIVE = Type("a number ≥ 0", lambda v: _is_number(v) and v >= 0)
REAL = Type("a finite number", lambda v: _is_number(v) and math.isfinite(v))
PROBABILITY = Type("a probability in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1)
FLAG = Type("true or false", lambda v: isinstance(v, bool))
INIT = Type("an initialisation like 'he' or 'normal(0.01)'",
            lambda v: init_scheme(v) is not None)
NUMBER_OR_NULL = Type("a number or null", lambda v: v is None or (_is_number(v) and math.isfinite(v)))


# ---- the spec ------------------------------------------------------------------------------

def _zero(a: Attrs, ins: list[Shape], out: Shape) -> int:
    return 0


ZERO: CountRule = _zero
"""The rule of an op that costs nothing (counting skips it instead of calling it)."""


@dataclass(frozen=True, slots=True)
class OpSpec:
    """Everything the front end knows about one op.

    ``required``/``optional`` are the attribute schema (an optional attribute maps to its
    type and default). ``inputs`` is the arity, the least number of inputs when
    ``variadic``. ``base`` names nodes (``conv2_x.pool``). ``shape_rule`` raises ShapeError;
    ``params_rule``/``macs_rule`` count learnable parameters and conv/fc multiply-adds;
    ``flops_rule`` is the elementwise FLOPs of the ``full`` convention, reported in
    ``column`` (None: it costs nothing); ``fvcore_rule`` is what fvcore 0.1.5 adds beyond
    MACs. ``weighted`` ops count in the depth. ``summary`` is its text for show and tables;
    ``label_rule`` its box label in a diagram, in the ResNet paper's Figure 3 words (None: the
    summary). Call the rules through :meth:`infer`, :meth:`params` … which fill in the defaults.
    """
    name: str
    base: str
    summary: str
    shape_rule: ShapeRule
    required: dict[str, Type] = field(default_factory=dict)
    optional: dict[str, tuple[Type, Any]] = field(default_factory=dict)
    inputs: int = 1
    variadic: bool = False
    params_rule: CountRule = _zero
    macs_rule: CountRule = _zero
    flops_rule: CountRule = _zero
    column: str | None = None
    fvcore_rule: CountRule = _zero
    weighted: bool = False
    label_rule: Callable[[Attrs], str] | None = None

    def type_of(self, key: str) -> Type | None:
        """The schema type of attribute ``key``, None when the op has no such attribute."""
        if key in self.required:
            return self.required[key]
        return self.optional[key][0] if key in self.optional else None

    def default(self, key: str) -> Any:
        """The default of optional attribute ``key`` (KeyError for any other key)."""
        return self.optional[key][1]

    def _full(self, a: Attrs) -> Attrs:
        if not self.optional:
            return a
        return {**{k: d for k, (_, d) in self.optional.items()}, **a}

    def infer(self, a: Attrs, ins: list[Shape]) -> Shape:
        """Output shape on inputs ``ins``; raises ShapeError."""
        return self.shape_rule(self._full(a), ins)

    def params(self, a: Attrs, ins: list[Shape], out: Shape) -> int:
        """Learnable parameters."""
        return self.params_rule(self._full(a), ins, out)

    def macs(self, a: Attrs, ins: list[Shape], out: Shape) -> int:
        """Multiply-adds per sample (conv and fc only)."""
        return self.macs_rule(self._full(a), ins, out)

    def flops(self, a: Attrs, ins: list[Shape], out: Shape) -> int:
        """Elementwise FLOPs per sample under the ``full`` convention (in :attr:`column`)."""
        return self.flops_rule(self._full(a), ins, out)

    def label(self, a: Attrs) -> str:
        """A node's diagram label (``3×3 conv, 128, /2``); the summary without a rule."""
        return self.label_rule(self._full(a)) if self.label_rule else self.summary

    def fvcore(self, a: Attrs, ins: list[Shape], out: Shape) -> int:
        """What fvcore 0.1.5 counts per sample beyond the MACs."""
        return self.fvcore_rule(self._full(a), ins, out)


# ---- shape rules ---------------------------------------------------------------------------

def _need_map(op: str, shape: Shape) -> None:
    if len(shape) != 3:
        raise ShapeError(f"{op} needs a C×H×W feature map but its input is flat ({shape[0]} features)"
                         if len(shape) == 1 else f"{op} needs a C×H×W feature map, not {dims_text(shape)}",
                         "put it before the flatten / fully connected layers")


def window_output(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                  ceil_mode: bool = False) -> int:
    """Output length of a sliding window along one axis, by torch's rule: floor, or ceil
    with the correction that the last window must start inside the input or left padding."""
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


#: torch keeps window sizes, strides, padding and dilation in 32-bit ints in some kernels
#: (max pooling with stride 2^31 fails with "value cannot be converted to type int").
MAX_WINDOW = 2 ** 31 - 1


def _window(op: str, a: Attrs, shape: Shape, out_channels: int) -> Shape:
    _need_map(op, shape)
    _, h, w = shape
    dilation, ceil_mode = a.get("dilation", (1, 1)), a.get("ceil_mode", False)
    for key in ("kernel", "stride", "padding", "dilation"):
        v = max(a.get(key, (1, 1)))
        if v > MAX_WINDOW:
            raise ShapeError(f"{op} {key} {v:,} is too large: torch holds it in a 32-bit int "
                             f"(at most {MAX_WINDOW:,})",
                             "a stride or window wider than the input has no effect beyond it")
    out = []
    for size, k, s, p, d in zip((h, w), a["kernel"], a["stride"], a["padding"], dilation):
        span = d * (k - 1) + 1   # a dilated kernel's footprint on the input
        n = window_output(size, k, s, p, d, ceil_mode)
        if n < 1:   # in ceil mode torch accepts a window wider than the input if it starts inside
            raise ShapeError(f"{op} kernel {k}" + (f" (dilated {d}: spans {span})" if d > 1 else "")
                             + f" is larger than its {size}-pixel input"
                             + (f" (padded by {p})" if p else ""),
                             "use a smaller kernel, or remove a downsampling layer before it")
        # A 1×1 stride-2 projection subsamples by design; only windows at least as wide as
        # their stride (AlexNet's 11×11/4, a 2×2/2 pool) lose real input at the border.
        # ceil_mode keeps the partial last window, so nothing is dropped.
        if p == 0 and span >= s and (size - span) % s and not ceil_mode:
            fix_in = size + (-(size - span)) % s
            target = (fix_in - span) // s + 1
            fix_pad = next(q for q in range(1, span + 1)
                           if window_output(size, k, s, q, d) == target)
            raise ShapeError(
                f"{k}×{k} window with stride {s} does not tile the {size}×{size} input "
                f"(({size} − {span}) / {s} = {(size - span) / s:g}); the last {(size - span) % s} "
                f"pixel{'s' if (size - span) % s > 1 else ''} would be dropped",
                f"use input {fix_in}×{fix_in}, or 'padding {fix_pad}' (either gives {target}×{target})")
        out.append(n)
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
    # dilation spreads the taps apart but keeps their number: MACs per output are unchanged
    kh, kw = a["kernel"]
    return out[0] * out[1] * out[2] * (a["in_channels"] // a["groups"]) * kh * kw


def _same(a: Attrs, shapes: list[Shape]) -> Shape:
    return shapes[0]


def _map_same(op: str) -> ShapeRule:
    def infer(a: Attrs, shapes: list[Shape]) -> Shape:
        _need_map(op, shapes[0])
        return shapes[0]
    return infer


def _bn_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    _need_map("batchnorm", shapes[0])
    if shapes[0][0] != a["channels"]:
        raise ShapeError(f"batchnorm expects {a['channels']} channels but gets {shapes[0][0]}")
    return shapes[0]


def _pool_shape(op: str) -> ShapeRule:
    def infer(a: Attrs, shapes: list[Shape]) -> Shape:
        for k, p in zip(a["kernel"], a["padding"]):
            if 2 * p > k:   # torch refuses it: a window could then lie wholly in the padding
                raise ShapeError(f"{op} padding {p} is more than half its {k}-wide window",
                                 f"use padding {k // 2} or less")
        return _window(op, a, shapes[0], shapes[0][0])
    return infer


def _lrn_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    _need_map("LRN", shapes[0])
    if a["size"] > shapes[0][0]:   # it normalises over `size` neighbouring channels
        raise ShapeError(f"LRN size {a['size']} is larger than its {shapes[0][0]} input channels",
                         f"use a size of at most {shapes[0][0]} (AlexNet: 5)")
    return shapes[0]


def _gap_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    _need_map("global average pool", shapes[0])
    return (shapes[0][0], 1, 1)


def _adaptive_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    _need_map("adaptive average pool", shapes[0])
    return (shapes[0][0], *a["size"])


def _flatten_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    return (prod(shapes[0]),)


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
    _need_map("zero-padding shortcut", shapes[0])
    c, h, w = shapes[0]
    s = a["stride"]
    return (c + a["pad_before"] + a["pad_after"], -(-h // s), -(-w // s))


def _concat_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    for s in shapes:
        _need_map("concat", s)
    first = shapes[0][1:]
    for i, s in enumerate(shapes[1:], 2):
        if s[1:] != first:
            raise ShapeError(
                f"concat joins maps of one height×width along the channels, but input 1 is "
                f"{dims_text(shapes[0])} and input {i} is {dims_text(s)}",
                "give every branch the same stride and 'same' padding")
    return (sum(s[0] for s in shapes), *first)


def _mul_shape(a: Attrs, shapes: list[Shape]) -> Shape:
    x, gate = shapes
    _need_map("mul", x)
    if gate != x and gate != (x[0], 1, 1):
        raise ShapeError(f"mul scales a {dims_text(x)} map by a gate of {x[0]}×1×1 or "
                         f"{dims_text(x)}, not {dims_text(gate)}",
                         f"make the gate's last layer give {x[0]} channels, pooled to 1×1")
    return x


# ---- counting rules ------------------------------------------------------------------------

def _adaptive_windows(size: int, out: int) -> int:
    """Total window length of torch's adaptive pooling along one axis (windows may overlap)."""
    return sum(ceil((j + 1) * size / out) - floor(j * size / out) for j in range(out))


def _adaptive_flops(a: Attrs, ins: list[Shape], out: Shape) -> int:
    c, h, w = ins[0]
    # one add per window element, the last one being the divide: the exact sum of window areas
    return c * _adaptive_windows(h, out[1]) * _adaptive_windows(w, out[2])


def _per_output(k: int) -> CountRule:
    """``k`` FLOPs per output element."""
    return lambda a, ins, out: k * prod(out)


def _per_input(k: int) -> CountRule:
    """``k`` FLOPs per element of the first input."""
    return lambda a, ins, out: k * prod(ins[0])


# ---- diagram labels: Figure 3's words (``7×7 conv, 64, /2``, ``3×3 max pool, /2``) -----------

def _stride_text(a: Attrs) -> str:
    s = a.get("stride", 1)
    s = s if isinstance(s, tuple) else (s, s)
    if s == (1, 1):
        return ""
    return f", /{s[0]}" if s[0] == s[1] else f", /{dims_text(s)}"


def _conv_label(a: Attrs) -> str:
    k, g, d = dims_text(a["kernel"]), a["groups"], a["dilation"]
    depthwise = g > 1 and g == a["in_channels"] == a["out_channels"]
    text = f"{k} {'dw conv' if depthwise else 'conv'}, {a['out_channels']}"
    if g > 1 and not depthwise:
        text += f", {g} groups"
    if d != (1, 1):
        text += f", dilation {dims_text(d) if d[0] != d[1] else d[0]}"
    return text + _stride_text(a)


def _pool_label(kind: str) -> Callable[[Attrs], str]:
    return lambda a: f"{dims_text(a['kernel'])} {kind}{_stride_text(a)}"


def _text(label: str) -> Callable[[Attrs], str]:
    return lambda a: label


_WINDOW = {"kernel": POSITIVE_PAIR, "stride": POSITIVE_PAIR, "padding": NATURAL_PAIR}
_DENSE = {"bias": FLAG, "bias_init": NUMBER_OR_NULL, "init": INIT}
_POOL = {"ceil_mode": (FLAG, False)}

OPS: dict[str, OpSpec] = {o.name: o for o in (
    OpSpec("conv", "conv", "convolution", _conv_shape,
           {**_WINDOW, **_DENSE, "in_channels": POSITIVE, "out_channels": POSITIVE, "groups": POSITIVE},
           {"dilation": (POSITIVE_PAIR, (1, 1))},
           params_rule=_conv_params, macs_rule=_conv_macs, weighted=True, label_rule=_conv_label),
    # eval-mode BN folds into one scale and one shift per element; fvcore's batchnorm_flop_jit
    # counts the same 2 per input element
    OpSpec("bn", "bn", "batch normalisation", _bn_shape,
           {"channels": POSITIVE, "eps": NONNEGATIVE, "momentum": NONNEGATIVE},
           params_rule=lambda a, i, o: 2 * a["channels"], flops_rule=_per_output(2), column="bn",
           fvcore_rule=_per_input(2), label_rule=_text("BN")),
    OpSpec("relu", "relu", "ReLU", _same, flops_rule=_per_output(1), column="relu"),
    # clamp below and above: two comparisons
    OpSpec("relu6", "relu", "ReLU6", _same, flops_rule=_per_output(2), column="relu"),
    # a comparison and a multiply
    OpSpec("leaky_relu", "relu", "leaky ReLU", _same, {"negative_slope": REAL},
           flops_rule=_per_output(2), column="relu"),
    # exp(−x) (the sign folds into it), + 1, divide
    OpSpec("sigmoid", "sigmoid", "sigmoid", _same, flops_rule=_per_output(3), column="relu"),
    # x·σ(x) (swish; EfficientNet, MobileNetV3): the sigmoid's 3 and one multiply
    OpSpec("silu", "silu", "SiLU", _same, flops_rule=_per_output(4), column="relu"),
    OpSpec("identity", "identity", "identity", _same),
    # square, (size-1) window adds, ×alpha, +k, power, divide
    OpSpec("lrn", "lrn", "local response normalisation", _lrn_shape,
           {"size": POSITIVE, "alpha": NONNEGATIVE, "beta": NONNEGATIVE, "k": NONNEGATIVE},
           flops_rule=lambda a, i, o: (a["size"] + 4) * prod(o), column="lrn",
           label_rule=_text("LRN")),
    # k·k − 1 comparisons per output element
    OpSpec("maxpool", "pool", "max pooling", _pool_shape("max pool"), dict(_WINDOW), dict(_POOL),
           flops_rule=lambda a, i, o: (prod(a["kernel"]) - 1) * prod(o), column="pool",
           label_rule=_pool_label("max pool")),
    # k·k − 1 adds and one divide per output element
    OpSpec("avgpool", "pool", "average pooling", _pool_shape("average pool"), dict(_WINDOW),
           dict(_POOL), flops_rule=lambda a, i, o: prod(a["kernel"]) * prod(o), column="pool",
           label_rule=_pool_label("avg pool")),
    # fvcore: elementwise_flop_counter(1, 0) on aten::adaptive_avg_pool2d, 1 per input element
    OpSpec("gap", "pool", "global average pooling", _gap_shape,
           flops_rule=_per_input(1), column="pool", fvcore_rule=_per_input(1),
           label_rule=_text("avg pool")),
    OpSpec("adaptive_avgpool", "pool", "adaptive average pooling", _adaptive_shape,
           {"size": POSITIVE_PAIR}, flops_rule=_adaptive_flops, column="pool",
           fvcore_rule=_per_input(1), label_rule=lambda a: f"adaptive avg pool, {dims_text(a['size'])}"),
    OpSpec("flatten", "flatten", "flatten", _flatten_shape),
    OpSpec("fc", "fc", "fully connected", _fc_shape,
           {**_DENSE, "in_features": POSITIVE, "out_features": POSITIVE},
           params_rule=_fc_params, macs_rule=_fc_macs, weighted=True,
           label_rule=lambda a: f"fc {a['out_features']}"),
    OpSpec("dropout", "dropout", "dropout", _same, {"p": PROBABILITY},
           label_rule=lambda a: f"dropout {a['p']}"),
    OpSpec("add", "add", "residual addition", _add_shape, inputs=2,
           flops_rule=_per_output(1), column="add", label_rule=_text("+")),
    # elementwise arithmetic, like add: one multiply per output element
    OpSpec("mul", "mul", "gating multiplication", _mul_shape, inputs=2,
           flops_rule=_per_output(1), column="add", label_rule=_text("×")),
    OpSpec("concat", "concat", "channel concatenation", _concat_shape, inputs=2, variadic=True,
           label_rule=_text("concat")),
    OpSpec("pad_shortcut", "shortcut", "zero-padding identity shortcut (option A)", _pad_shape,
           {"stride": POSITIVE, "pad_before": NATURAL, "pad_after": NATURAL},
           label_rule=lambda a: f"zero-pad{_stride_text(a)}"),
    # exp, running sum, divide
    OpSpec("softmax", "softmax", "soft-max", _same, flops_rule=_per_output(3), column="softmax",
           label_rule=_text("softmax")),
)}
"""op name -> :class:`OpSpec`. Every op of :data:`archdsl.lowering.torch_ops.TORCH_OPS` has one."""


def infer_shape(op: str, a: Attrs, shapes: list[Shape]) -> Shape:
    """Output shape of ``op`` with attributes ``a`` on inputs ``shapes``; raises ShapeError."""
    return OPS[op].infer(a, shapes)
