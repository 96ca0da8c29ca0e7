"""The torch half of the op table: for every IR op, how to build its module and how to write
it as PyTorch source. Keyed exactly like :data:`archdsl.ir.ops.OPS` (a test holds the two to
the same keys); nothing else under ``lowering/`` knows ops by name.

``build(node, ctx)`` returns the ``nn.Module`` for a node, initialised as the papers say
(:func:`init_layer`); ``source(node, ctx)`` returns ``(constructor expression, comment)``
for the same module, so generated code builds identical layers. ``ctx`` is the lowering
context (:class:`Context`, made by :func:`context`): which nodes run in place.
``inline(node, ctx, args)``, where set, is the forward expression over the input variables
that generated source writes instead of calling a module (``out + identity`` for a residual
add). Three flags describe the op to whole-graph decisions: ``fresh`` (its output is a new
tensor that its own backward does not read, so a sole consumer may overwrite it),
``inplace`` (it can overwrite its first input) and ``head`` (it starts the classifier head:
``forward_features`` stops before the first such node at stage level).

torch is imported on the first ``build``, not with this module: codegen and ``archdsl build``
write sources from the table without paying torch's ~2 s import.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph, Node
from archdsl.ir.ops import init_scheme

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True, slots=True)
class Context:
    """What lowering decided about the whole graph that single nodes cannot know."""
    inplace: frozenset[str] = frozenset()   # nodes (ReLUs, adds) allowed to overwrite their input


Build = Callable[[Node, Context], "nn.Module"]
Source = Callable[[Node, Context], tuple[str, str]]
Inline = Callable[[Node, Context, list[str]], str]


@dataclass(frozen=True, slots=True)
class TorchOp:
    """How one op becomes torch: its module builder, its source writer and, for arithmetic
    that reads better written out, its inline forward expression; the flags are explained
    in the module docstring."""
    build: Build
    source: Source
    inline: Inline | None = None
    fresh: bool = False
    inplace: bool = False
    head: bool = False


def _torch(name: str) -> Any:
    """The class a source expression names (``nn.Conv2d``, or ``Concat`` from
    :mod:`.layers`), imported on first use."""
    if name.startswith("nn."):
        from torch import nn
        return getattr(nn, name[3:])
    from archdsl.lowering import layers
    return getattr(layers, name)


def _scheme(node: Node) -> tuple[str, float | None]:
    """``("he"|"normal"|"torch", std)`` for a weighted node's ``init`` attribute."""
    scheme = node.get("init", "torch")
    parsed = init_scheme(scheme)   # the same reading the op table's INIT type admits
    if parsed is not None:
        return parsed
    raise ArchError(f"{node.name}: unknown init scheme {scheme!r}", node.span,
                    hint="use 'init he', 'init normal 0.01' or 'init torch'")


def init_layer(module: nn.Module, node: Node) -> None:
    """Initialise a conv/fc/bn module as its node says.

    ``init``: ``"he"`` → Kaiming normal (fan_out, ReLU gain, as torchvision's ResNet),
    ``"normal(σ)"`` → N(0, σ²) (AlexNet, VGG), ``"torch"`` → torch's default. The bias is
    ``bias_init`` when given (AlexNet's 1s), else 0 (torch's default under ``"torch"``).
    BatchNorm: weight 1, bias 0.
    """
    from torch import nn

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
    return _torch("nn.Conv2d")(n["in_channels"], n["out_channels"], n["kernel"], n["stride"],
                     n["padding"], dilation=n.get("dilation", (1, 1)), groups=n["groups"],
                     bias=n["bias"])


def _conv_src(n: Node, ctx: Context) -> tuple[str, str]:
    args = [str(n["in_channels"]), str(n["out_channels"]), f"kernel_size={_size(n['kernel'])}"]
    if tuple(n["stride"]) != (1, 1):
        args.append(f"stride={_size(n['stride'])}")
    if tuple(n["padding"]) != (0, 0):
        args.append(f"padding={_size(n['padding'])}")
    if tuple(n.get("dilation", (1, 1))) != (1, 1):
        args.append(f"dilation={_size(n['dilation'])}")
    if n["groups"] != 1:
        args.append(f"groups={n['groups']}")
    if not n["bias"]:
        args.append("bias=False")
    return _init_source(f"nn.Conv2d({', '.join(args)})", n)


def _fc(n: Node, ctx: Context) -> nn.Module:
    return _torch("nn.Linear")(n["in_features"], n["out_features"], bias=n["bias"])


def _fc_src(n: Node, ctx: Context) -> tuple[str, str]:
    bias = "" if n["bias"] else ", bias=False"
    return _init_source(f"nn.Linear({n['in_features']}, {n['out_features']}{bias})", n)


def _bn_src(n: Node, ctx: Context) -> tuple[str, str]:
    extra = "" if n["eps"] == 1e-5 else f", eps={n['eps']!r}"
    extra += "" if n["momentum"] == 0.1 else f", momentum={n['momentum']!r}"
    return f"nn.BatchNorm2d({n['channels']}{extra})", ""


def _lrn(n: Node, ctx: Context) -> nn.Module:
    # the paper divides by (k + α Σa²)^β; torch divides α by the window size first
    return _torch("nn.LocalResponseNorm")(n["size"], alpha=n["alpha"] * n["size"], beta=n["beta"], k=n["k"])


def _lrn_src(n: Node, ctx: Context) -> tuple[str, str]:
    alpha = n["alpha"] * n["size"]  # exactly the value the builder computes
    return (f"nn.LocalResponseNorm({n['size']}, alpha={alpha!r}, beta={n['beta']!r}, k={n['k']!r})",
            f"paper α={n['alpha']!r}; torch divides α by the window size")


def _pool(cls: str) -> TorchOp:
    def build(n: Node, ctx: Context) -> nn.Module:
        return _torch(cls)(n["kernel"], n["stride"], n["padding"], ceil_mode=n.get("ceil_mode", False))

    def source(n: Node, ctx: Context) -> tuple[str, str]:
        args = [_size(n["kernel"])]
        if tuple(n["stride"]) != tuple(n["kernel"]):
            args.append(f"stride={_size(n['stride'])}")
        if tuple(n["padding"]) != (0, 0):
            args.append(f"padding={_size(n['padding'])}")
        if n.get("ceil_mode", False):
            args.append("ceil_mode=True")
        return f"{cls}({', '.join(args)})", ""
    return TorchOp(build, source, fresh=True)


def _activation(cls: str) -> TorchOp:
    """ReLU, ReLU6: in place where :func:`context` allows (as torchvision writes them)."""
    def source(n: Node, ctx: Context) -> tuple[str, str]:
        return f"{cls}({'inplace=True' if n.name in ctx.inplace else ''})", ""
    return TorchOp(lambda n, ctx: _torch(cls)(inplace=n.name in ctx.inplace), source, inplace=True)


def _fixed(cls: str, *args: Any, comment: str = "", **flags: Any) -> TorchOp:
    """An op without attributes: always ``cls(*args)``, written so."""
    expr = f"{cls}({', '.join(map(repr, args))})"
    return TorchOp(lambda n, ctx: _torch(cls)(*args), lambda n, ctx: (expr, comment), **flags)


def _add_src(n: Node, ctx: Context) -> tuple[str, str]:
    return ("Add(inplace=True)" if n.name in ctx.inplace else "Add()"), ""


def _leaky_relu_src(n: Node, ctx: Context) -> tuple[str, str]:
    return f"nn.LeakyReLU({n['negative_slope']!r})", ""


# ``fresh``: conv, bn, fc, pools, lrn, add, concat, mul and the option-A pad return a new
# tensor and backpropagate from their inputs only. Not fresh: activations (ReLU's backward
# reads its output), dropout and identity (eval-mode dropout returns its input), flatten (a view).
TORCH_OPS: dict[str, TorchOp] = {
    "conv": TorchOp(_conv, _conv_src, fresh=True),
    "bn": TorchOp(lambda n, ctx: _torch("nn.BatchNorm2d")(n["channels"], eps=n["eps"], momentum=n["momentum"]),
                  _bn_src, fresh=True),
    "relu": _activation("nn.ReLU"),
    "relu6": _activation("nn.ReLU6"),
    "leaky_relu": TorchOp(lambda n, ctx: _torch("nn.LeakyReLU")(n["negative_slope"]), _leaky_relu_src),
    "sigmoid": _fixed("nn.Sigmoid"),
    "silu": _fixed("nn.SiLU"),
    "identity": _fixed("nn.Identity"),
    "lrn": TorchOp(_lrn, _lrn_src, fresh=True),
    "maxpool": _pool("nn.MaxPool2d"),
    "avgpool": _pool("nn.AvgPool2d"),
    "gap": _fixed("nn.AdaptiveAvgPool2d", 1, comment="global average pool", fresh=True, head=True),
    "adaptive_avgpool": TorchOp(lambda n, ctx: _torch("nn.AdaptiveAvgPool2d")(tuple(n["size"])),
                                lambda n, ctx: (f"nn.AdaptiveAvgPool2d({tuple(n['size'])!r})", ""),
                                fresh=True, head=True),
    "flatten": _fixed("nn.Flatten", 1, head=True),
    "fc": TorchOp(_fc, _fc_src, fresh=True, head=True),
    "dropout": TorchOp(lambda n, ctx: _torch("nn.Dropout")(n["p"]),
                       lambda n, ctx: (f"nn.Dropout({n['p']!r})", "")),
    "add": TorchOp(lambda n, ctx: _torch("Add")(inplace=n.name in ctx.inplace), _add_src,
                   lambda n, ctx, args: " + ".join(args), fresh=True, inplace=True),
    "concat": _fixed("Concat", inline=lambda n, ctx, args: f"torch.cat([{', '.join(args)}], 1)",
                     fresh=True),
    "mul": _fixed("Mul", inline=lambda n, ctx, args: " * ".join(args), fresh=True),
    "pad_shortcut": TorchOp(
        lambda n, ctx: _torch("PadShortcut")(n["stride"], n["pad_before"], n["pad_after"]),
        lambda n, ctx: (f"PadShortcut(stride={n['stride']}, pad_before={n['pad_before']}, "
                        f"pad_after={n['pad_after']})", "option A: zero-padded identity"),
        fresh=True),
    # the contract: the model returns logits and the loss applies the soft-max
    "softmax": _fixed("nn.Identity", comment="soft-max: applied by the loss, the model returns logits"),
}
"""op -> :class:`TorchOp`. Every op of :data:`archdsl.ir.ops.OPS` has one."""


def head_start(graph: Graph) -> Node | None:
    """The first stage-level node that starts the head (global pool, flatten, fc), if any:
    ``forward_features`` returns its input, ``forward_head`` runs it and what follows."""
    return next((n for n in graph.nodes if n.block is None and TORCH_OPS[n.op].head), None)


def context(graph: Graph) -> Context:
    """Decide which nodes of ``graph`` run in place.

    An in-place op (ReLU, ReLU6, the residual add) may overwrite its first input when it is
    the sole consumer of that tensor, the producer is ``fresh`` (its backward does not read
    its output, and the tensor aliases nothing else), and the tensor is not one the caller
    sees: the network input, a stage output (``forward_stages`` returns it) or the feature
    map ``forward_features`` returns. That is where torchvision writes ``inplace=True`` and
    ``out += identity``, which is what the training speed depends on.
    """
    uses = Counter(i for n in graph.nodes for i in n.inputs)
    ops = {n.name: TORCH_OPS[n.op] for n in graph.nodes}
    seen = {"input", *(s.nodes[-1] for s in graph.stages if s.nodes)}
    start = head_start(graph)
    if start is not None:
        seen.add(start.inputs[0])
    return Context(frozenset(
        n.name for n in graph.nodes
        if ops[n.name].inplace and n.inputs[0] not in seen and uses[n.inputs[0]] == 1
        and ops[n.inputs[0]].fresh))


def build_layer(node: Node, ctx: Context) -> nn.Module:
    """The initialised module for one node."""
    module = TORCH_OPS[node.op].build(node, ctx)
    init_layer(module, node)
    return module


def layer_source(node: Node, ctx: Context) -> tuple[str, str]:
    """The constructor expression and a short comment for ``node``."""
    return TORCH_OPS[node.op].source(node, ctx)
