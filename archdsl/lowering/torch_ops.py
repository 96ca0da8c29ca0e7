"""The torch half of the op table: for every IR op, how to build its module and how to write
it as PyTorch source. Keyed exactly like :data:`archdsl.ir.ops.OPS` (a test holds the two to
the same keys); nothing else under ``lowering/`` knows ops by name.

``build(node, ctx)`` returns the ``nn.Module`` for a node, initialised as the papers say
(:func:`init_layer`); ``source(node, ctx)`` returns ``(constructor expression, comment)``
for the same module, so generated code builds identical layers. ``ctx`` is the lowering
context (:class:`Context`): which ReLUs may run in place. ``inline(node, ctx, args)``, where
set, is the forward expression over the input variables that generated source writes
instead of calling a module (``out + identity`` for a residual add).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from torch import nn

from archdsl.errors import ArchError
from archdsl.ir.graph import Node
from archdsl.lowering.layers import Add, PadShortcut


@dataclass(frozen=True, slots=True)
class Context:
    """What lowering decided about the whole graph that single nodes cannot know."""
    inplace: frozenset[str] = frozenset()   # ReLUs allowed to overwrite their input


Build = Callable[[Node, Context], nn.Module]
Source = Callable[[Node, Context], tuple[str, str]]
Inline = Callable[[Node, Context, list[str]], str]


@dataclass(frozen=True, slots=True)
class TorchOp:
    """How one op becomes torch: its module builder, its source writer and, for arithmetic
    that reads better written out, its inline forward expression."""
    build: Build
    source: Source
    inline: Inline | None = None


_NORMAL = re.compile(r"normal\(\s*([0-9.eE+-]+)\s*\)$")


def _scheme(node: Node) -> tuple[str, float | None]:
    """``("he"|"normal"|"torch", std)`` for a weighted node's ``init`` attribute."""
    scheme = node.get("init", "torch")
    m = _NORMAL.match(scheme)
    if m:
        return "normal", float(m.group(1))
    if scheme in ("he", "torch"):
        return scheme, None
    raise ArchError(f"{node.name}: unknown init scheme {scheme!r}", node.span,
                    hint="use 'init he', 'init normal 0.01' or 'init torch'")


def init_layer(module: nn.Module, node: Node) -> None:
    """Initialise a conv/fc/bn module as its node says.

    ``init``: ``"he"`` → Kaiming normal (fan_out, ReLU gain, as torchvision's ResNet),
    ``"normal(σ)"`` → N(0, σ²) (AlexNet, VGG), ``"torch"`` → torch's default. The bias is
    ``bias_init`` when given (AlexNet's 1s), else 0 (torch's default under ``"torch"``).
    BatchNorm: weight 1, bias 0.
    """
    if node.op == "bn":
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
        return
    if node.op not in ("conv", "fc"):
        return
    scheme, std = _scheme(node)
    if scheme == "he":
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    elif scheme == "normal":
        nn.init.normal_(module.weight, 0.0, std)
    if module.bias is not None:
        bias_init = node.get("bias_init")
        if bias_init is not None:
            nn.init.constant_(module.bias, float(bias_init))
        elif scheme != "torch":
            nn.init.zeros_(module.bias)


# ---- source helpers ---------------------------------------------------------------------

def _size(v) -> str:
    """``3`` for (3, 3), ``(1, 3)`` otherwise."""
    v = tuple(v)
    return str(v[0]) if len(set(v)) == 1 else repr(v)


def _init_source(expr: str, node: Node) -> tuple[str, str]:
    """Wrap a conv/fc constructor in the generated ``he``/``normal``/``constant_bias`` helpers."""
    scheme, std = _scheme(node)
    bias_init = node.get("bias_init") if node["bias"] else None
    bias = "" if bias_init is None else f", bias={float(bias_init)!r}"
    if scheme == "he":
        return f"he({expr}{bias})", ""
    if scheme == "normal":
        return f"normal({expr}, std={std!r}{bias})", ""
    return (f"constant_bias({expr}{bias})" if bias else expr), ""


# ---- per-op builders and sources --------------------------------------------------------

def _conv(n: Node, ctx: Context) -> nn.Module:
    return nn.Conv2d(n["in_channels"], n["out_channels"], n["kernel"], n["stride"],
                     n["padding"], groups=n["groups"], bias=n["bias"])


def _conv_src(n: Node, ctx: Context) -> tuple[str, str]:
    args = [str(n["in_channels"]), str(n["out_channels"]), f"kernel_size={_size(n['kernel'])}"]
    if tuple(n["stride"]) != (1, 1):
        args.append(f"stride={_size(n['stride'])}")
    if tuple(n["padding"]) != (0, 0):
        args.append(f"padding={_size(n['padding'])}")
    if n["groups"] != 1:
        args.append(f"groups={n['groups']}")
    if not n["bias"]:
        args.append("bias=False")
    return _init_source(f"nn.Conv2d({', '.join(args)})", n)


def _fc(n: Node, ctx: Context) -> nn.Module:
    return nn.Linear(n["in_features"], n["out_features"], bias=n["bias"])


def _fc_src(n: Node, ctx: Context) -> tuple[str, str]:
    bias = "" if n["bias"] else ", bias=False"
    return _init_source(f"nn.Linear({n['in_features']}, {n['out_features']}{bias})", n)


def _bn_src(n: Node, ctx: Context) -> tuple[str, str]:
    extra = "" if n["eps"] == 1e-5 else f", eps={n['eps']!r}"
    extra += "" if n["momentum"] == 0.1 else f", momentum={n['momentum']!r}"
    return f"nn.BatchNorm2d({n['channels']}{extra})", ""


def _lrn(n: Node, ctx: Context) -> nn.Module:
    # the paper divides by (k + α Σa²)^β; torch divides α by the window size first
    return nn.LocalResponseNorm(n["size"], alpha=n["alpha"] * n["size"], beta=n["beta"], k=n["k"])


def _lrn_src(n: Node, ctx: Context) -> tuple[str, str]:
    alpha = n["alpha"] * n["size"]  # exactly the value the builder computes
    return (f"nn.LocalResponseNorm({n['size']}, alpha={alpha!r}, beta={n['beta']!r}, k={n['k']!r})",
            f"paper α={n['alpha']!r}; torch divides α by the window size")


def _pool(cls: type[nn.Module]) -> TorchOp:
    def build(n: Node, ctx: Context) -> nn.Module:
        return cls(n["kernel"], n["stride"], n["padding"])

    def source(n: Node, ctx: Context) -> tuple[str, str]:
        args = [_size(n["kernel"])]
        if tuple(n["stride"]) != tuple(n["kernel"]):
            args.append(f"stride={_size(n['stride'])}")
        if tuple(n["padding"]) != (0, 0):
            args.append(f"padding={_size(n['padding'])}")
        return f"nn.{cls.__name__}({', '.join(args)})", ""
    return TorchOp(build, source)


def _relu(n: Node, ctx: Context) -> nn.Module:
    return nn.ReLU(inplace=n.name in ctx.inplace)


TORCH_OPS: dict[str, TorchOp] = {
    "conv": TorchOp(_conv, _conv_src),
    "bn": TorchOp(lambda n, ctx: nn.BatchNorm2d(n["channels"], eps=n["eps"], momentum=n["momentum"]),
                  _bn_src),
    "relu": TorchOp(_relu, lambda n, ctx: ("nn.ReLU(inplace=True)" if n.name in ctx.inplace
                                          else "nn.ReLU()", "")),
    "lrn": TorchOp(_lrn, _lrn_src),
    "maxpool": _pool(nn.MaxPool2d),
    "avgpool": _pool(nn.AvgPool2d),
    "gap": TorchOp(lambda n, ctx: nn.AdaptiveAvgPool2d(1),
                   lambda n, ctx: ("nn.AdaptiveAvgPool2d(1)", "global average pool")),
    "adaptive_avgpool": TorchOp(lambda n, ctx: nn.AdaptiveAvgPool2d(tuple(n["size"])),
                                lambda n, ctx: (f"nn.AdaptiveAvgPool2d({tuple(n['size'])!r})", "")),
    "flatten": TorchOp(lambda n, ctx: nn.Flatten(1), lambda n, ctx: ("nn.Flatten(1)", "")),
    "fc": TorchOp(_fc, _fc_src),
    "dropout": TorchOp(lambda n, ctx: nn.Dropout(n["p"]),
                       lambda n, ctx: (f"nn.Dropout({n['p']!r})", "")),
    "add": TorchOp(lambda n, ctx: Add(), lambda n, ctx: ("Add()", ""),
                   lambda n, ctx, args: " + ".join(args)),
    "pad_shortcut": TorchOp(
        lambda n, ctx: PadShortcut(n["stride"], n["pad_before"], n["pad_after"]),
        lambda n, ctx: (f"PadShortcut(stride={n['stride']}, pad_before={n['pad_before']}, "
                        f"pad_after={n['pad_after']})", "option A: zero-padded identity")),
    # the contract: the model returns logits and the loss applies the soft-max
    "softmax": TorchOp(lambda n, ctx: nn.Identity(),
                       lambda n, ctx: ("nn.Identity()",
                                       "soft-max: applied by the loss, the model returns logits")),
}
"""op -> :class:`TorchOp`. Every op of :data:`archdsl.ir.ops.OPS` has one."""


def build_layer(node: Node, ctx: Context) -> nn.Module:
    """The initialised module for one node."""
    module = TORCH_OPS[node.op].build(node, ctx)
    init_layer(module, node)
    return module


def layer_source(node: Node, ctx: Context) -> tuple[str, str]:
    """The constructor expression and a short comment for ``node``."""
    return TORCH_OPS[node.op].source(node, ctx)
