"""One line of PyTorch source per IR node: the codegen twin of :data:`.lower.BUILDERS`.

:data:`SOURCES` maps every op to a function ``(node, plan) -> (expression, comment)``; the
expression constructs the same module the builder does (same class, same arguments, so the
same ``state_dict`` and the same outputs), wrapped in the initialiser the node asks for.
``add`` is ``None``: the generated block's ``forward`` writes the addition inline.
"""
from __future__ import annotations

import re
from typing import Callable

from archdsl.ir.graph import Node
from archdsl.lowering.plan import Plan

Source = Callable[[Node, Plan], tuple[str, str]]

_NORMAL = re.compile(r"normal\(\s*([0-9.eE+-]+)\s*\)$")


def _size(v) -> str:
    """``3`` for (3, 3), ``(1, 3)`` otherwise."""
    v = tuple(v)
    return str(v[0]) if len(set(v)) == 1 else repr(v)


def _init(expr: str, node: Node) -> tuple[str, str]:
    """Wrap a conv/fc constructor in the generated ``he``/``normal``/``bias`` helpers."""
    scheme = node.get("init", "torch")
    bias_init = node.get("bias_init") if node["bias"] else None
    bias = "" if bias_init is None else f", bias={float(bias_init)!r}"
    m = _NORMAL.match(scheme)
    if scheme == "he":
        return f"he({expr}{bias})", ""
    if m:
        return f"normal({expr}, std={float(m.group(1))!r}{bias})", ""
    if scheme != "torch":
        raise ValueError(f"{node.name}: unknown init scheme {scheme!r}")
    return (f"constant_bias({expr}{bias})" if bias else expr), ""


def _conv(n: Node, p: Plan) -> tuple[str, str]:
    args = [str(n["in_channels"]), str(n["out_channels"]), f"kernel_size={_size(n['kernel'])}"]
    if tuple(n["stride"]) != (1, 1):
        args.append(f"stride={_size(n['stride'])}")
    if tuple(n["padding"]) != (0, 0):
        args.append(f"padding={_size(n['padding'])}")
    if n["groups"] != 1:
        args.append(f"groups={n['groups']}")
    if not n["bias"]:
        args.append("bias=False")
    expr, note = _init(f"nn.Conv2d({', '.join(args)})", n)
    return expr, note


def _fc(n: Node, p: Plan) -> tuple[str, str]:
    bias = "" if n["bias"] else ", bias=False"
    return _init(f"nn.Linear({n['in_features']}, {n['out_features']}{bias})", n)


def _bn(n: Node, p: Plan) -> tuple[str, str]:
    extra = "" if n["eps"] == 1e-5 else f", eps={n['eps']!r}"
    extra += "" if n["momentum"] == 0.1 else f", momentum={n['momentum']!r}"
    return f"nn.BatchNorm2d({n['channels']}{extra})", ""


def _pool(cls: str) -> Source:
    def src(n: Node, p: Plan) -> tuple[str, str]:
        args = [_size(n["kernel"])]
        if tuple(n["stride"]) != tuple(n["kernel"]):
            args.append(f"stride={_size(n['stride'])}")
        if tuple(n["padding"]) != (0, 0):
            args.append(f"padding={_size(n['padding'])}")
        return f"nn.{cls}({', '.join(args)})", ""
    return src


def _lrn(n: Node, p: Plan) -> tuple[str, str]:
    alpha = n["alpha"] * n["size"]  # exactly the value the builder computes
    return (f"nn.LocalResponseNorm({n['size']}, alpha={alpha!r}, beta={n['beta']!r}, k={n['k']!r})",
            f"paper α={n['alpha']!r}; torch divides α by the window size")


SOURCES: dict[str, Source | None] = {
    "conv": _conv,
    "bn": _bn,
    "relu": lambda n, p: ("nn.ReLU(inplace=True)" if n.name in p.inplace else "nn.ReLU()", ""),
    "lrn": _lrn,
    "maxpool": _pool("MaxPool2d"),
    "avgpool": _pool("AvgPool2d"),
    "gap": lambda n, p: ("nn.AdaptiveAvgPool2d(1)", "global average pool"),
    "adaptive_avgpool": lambda n, p: (f"nn.AdaptiveAvgPool2d({tuple(n['size'])!r})", ""),
    "flatten": lambda n, p: ("nn.Flatten(1)", ""),
    "fc": _fc,
    "dropout": lambda n, p: (f"nn.Dropout({n['p']!r})", ""),
    "add": None,
    "pad_shortcut": lambda n, p: (f"PadShortcut(stride={n['stride']}, pad_before={n['pad_before']}, "
                                  f"pad_after={n['pad_after']})", "option A: zero-padded identity"),
    "softmax": lambda n, p: ("nn.Identity()", "soft-max: applied by the loss, the model returns logits"),
}
"""op -> source(node, plan) -> (constructor expression, comment); None for ``add``."""


def layer_source(node: Node, plan: Plan) -> tuple[str, str]:
    """The constructor expression and a short comment for ``node``."""
    src = SOURCES[node.op]
    if src is None:
        raise ValueError(f"{node.name}: {node.op} has no module; blocks write it inline")
    return src(node, plan)
