"""How one layer of a row expands into IR nodes, before shapes are known, and the
layout rules that depend only on sizes (pool padding, implied strides, fallback shapes)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archdsl.builder import settings as cfg
from archdsl.errors import Span
from archdsl.ir.ops import OPS, window_output
from archdsl.builder.layer import Layer


@dataclass
class Unit:
    """A node still to be placed: op, attributes known before shapes, base name, span.

    A shape error is reported at ``error_at`` (default: ``span``) with ``notes``: a conv of a
    named block has its node span in the definition but fails at one use of the block."""
    op: str
    attrs: dict[str, Any]
    span: Span
    base: str
    layer: Layer | None = None
    error_at: Span | None = None
    notes: tuple = ()


def bn_attrs(s: cfg.Settings | None = None) -> dict[str, Any]:
    return {"eps": s.bn_eps if s is not None else 1e-5, "momentum": 0.1}


def conv_attrs(a: dict[str, Any], s: cfg.Settings, stride: tuple[int, int] | None = None
               ) -> dict[str, Any]:
    """A conv node's attributes before shapes are known: what the layer states, the rest by
    default (size-preserving padding, no groups, the settings' bias and init). ``stride``,
    when given, is the one placement decided (a block's strided conv, a projection)."""
    dilation = a.get("dilation", (1, 1))
    if "out_channels" not in a and not a.get("depthwise") and "expand" not in a:
        # DenseNet's transition '1×1 conv': θ × its input, in place (a dw conv keeps its input's)
        a = {**a, "out_channels": None, "compress": s.compression}
    conv = {"kernel": a["kernel"], "out_channels": a.get("out_channels"),
            "stride": stride if stride is not None else a.get("stride", (1, 1)),
            # "same" padding; a dilated kernel spans d·(k−1)+1
            "padding": a.get("padding", tuple(d * (k - 1) // 2 if d > 1 else k // 2
                                              for k, d in zip(a["kernel"], dilation))),
            "groups": a.get("groups", 1), "bias": a.get("bias", s.conv_bias()),
            "bias_init": a.get("bias_init"), "init": s.init}
    if "depth" in a:
        conv["depth"] = a["depth"]   # AlexNet's 5×5×48: groups follow once the input is known
    if "compress" in a:
        conv["compress"] = a["compress"]
    if dilation != (1, 1):
        conv["dilation"] = dilation  # absent at its default, as the op table wants
    for key in _PLACED:
        if key in a:
            conv[key] = a[key]
    return conv


# Conv attributes settled once the input's channels are known (builder/mobile.placed_conv):
# depthwise (dw), in (a k×k×in×out filter), expand (a bottleneck's t × in).
_PLACED = ("depthwise", "in", "expand")


def units(layer: Layer, s: cfg.Settings, is_classifier: bool) -> list[Unit]:
    """The nodes one (non-block) layer expands to: conv → conv[, bn], relu; fc → fc[, relu]."""
    a, span = layer.attrs, layer.span
    if layer.kind == "conv":
        out = [Unit("conv", conv_attrs(a, s), span, "conv", layer)]
        if s.preactivation:   # its BN-ReLU is the next block's pre-activation (#13a)
            return out
        if s.batchnorm:
            out.append(Unit("bn", bn_attrs(s), span, "bn"))
        return out + activation_units(layer, s, span)
    if layer.kind == "fc":
        init = s.init if s.init.startswith("normal") else "normal(0.01)"
        fc = {"out_features": a["out_features"], "bias": a.get("bias", True),
              "bias_init": a.get("bias_init"), "init": init}
        if "in" in a:   # 'fc / s1 1024×1000': checked once placed (builder/mobile.placed_in)
            fc["in"] = a["in"]
        return [Unit("fc", fc, span, "fc")] + ([] if is_classifier and "act" not in a
                                                else activation_units(layer, s, span))
    if layer.kind in ("maxpool", "avgpool"):
        pool = {"kernel": a["kernel"], "stride": a.get("stride", a["kernel"])}
        if "padding" in a:
            pool["padding"] = a["padding"]
        if a.get("ceil_mode"):   # torchvision's SqueezeNet: the last partial window is kept,
            pool["ceil_mode"] = True            # unpadded unless the spec pads
            pool.setdefault("padding", (0, 0))
        return [Unit(layer.kind, pool, span, "pool")]
    if layer.kind == "bn":
        return [Unit("bn", bn_attrs(s), span, "bn")]
    return [Unit(layer.kind, dict(a), span, OPS[layer.kind].base)]


def activation_units(layer: Layer | None, s: cfg.Settings, span: Span) -> list[Unit]:
    """The activation after a conv or hidden fc: the layer's own (``3×3, 64, relu6``), else
    the network's (``with activation leaky relu 0.1``); none for ``linear``. Named ``relu``
    whatever the op, so that names do not depend on the choice."""
    op, attrs = layer.attrs["act"] if layer is not None and "act" in layer.attrs \
        else s.activation
    return [] if op is None else [Unit(op, dict(attrs), span, "relu")]


def stage_counts(layers: list[Layer], s: cfg.Settings) -> dict[str, int]:
    """How many nodes of each base name the stage's non-block layers produce (for numbering)."""
    counts: dict[str, int] = {}
    for layer in layers:
        if layer.kind == "block":
            continue
        # The classifier flag only removes a relu; numbering relus 1..n stays unambiguous.
        for u in units(layer, s, False) * layer.repeat:
            counts[u.base] = counts.get(u.base, 0) + 1
    return counts


def pool_padding(shape, kernel, stride) -> tuple[int, int]:
    """Pools are unpadded when their window tiles the input exactly (AlexNet's 55→27, VGG's
    2×2); otherwise padded to give ⌈size/stride⌉ (ResNet's 3×3/2 max pool, 112→56)."""
    if len(shape) != 3:
        return (0, 0)
    pads = []
    for size, k, s in zip(shape[1:], kernel, stride):
        # a window wider than its input is an error, not something padding should hide
        pads.append(0 if (size - k) % s == 0 or k > size else (k - 1) // 2)
    return tuple(pads)


def implied_stride(size: int, declared: int) -> int:
    """The stride a stage's first block needs so that ``size`` becomes the declared size."""
    if declared < size and declared > 0:
        # ⌈size/s⌉ = declared: 56→28 (s 2), and 33→17 or 15→8, which round up (s 2 too)
        for s in (size // declared, -(-size // declared)):
            if s > 1 and -(-size // s) == declared:
                return s
    return 1


def fallback(op: str, a: dict, shape) -> tuple[int, ...] | None:
    """A best-effort output shape after a shape error, so later independent errors still show."""
    if op in ("conv", "maxpool", "avgpool") and len(shape) == 3:
        out = [window_output(n, k, s, p) for n, k, s, p in
               zip(shape[1:], a["kernel"], a["stride"], a["padding"])]
        if min(out) < 1:
            return None
        return (a.get("out_channels", shape[0]), *out)
    if op == "fc":
        return (a["out_features"],)
    if op == "add":
        return shape
    if op == "bn":
        return shape
    return None
