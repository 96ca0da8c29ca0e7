"""Residual-family block kinds (#13a): full pre-activation units and the SE gate, as data
for :mod:`archdsl.builder.blocks`, and the small rules that kind of block reads.

``preact`` (He et al. 2016b, "Identity Mappings"; ``with preactivation``): each entry is
BN → ReLU → conv, the branch ends in its last conv and nothing follows the addition. Where
the block changes shape, its shortcut is a 1×1 projection conv without BN that reads the
*pre-activated* input: the first BN-ReLU is shared by the branch and the shortcut, as in
the authors' code (fb.resnet.torch ``preresnet.lua`` "both_preact", WRN's ``wide_basic``).
A block whose input is already activated (a ReLU, or a max pool after one: a stem that
ends conv-BN-ReLU-pool) leaves its first BN-ReLU out ("no_preact").

``se`` (Hu et al. 2018): the gate the SE row ``fc, [C/r, C]`` declares, placed after the
last conv of the branch and before the addition: global average pool → 1×1 conv C/r (the
fc, with bias) → ReLU → 1×1 conv C → sigmoid, then ``mul(x, gate)`` (``<block>.scale``), as in the authors'
released models (fc layers as 1×1 convolutions). Its nodes have the role ``gate``: they do
not count in the network's depth.
"""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any, Mapping

from archdsl.builder import expand
from archdsl.builder import settings as cfg
from archdsl.builder.layer import Layer
from archdsl.errors import ArchError, Span

_ACTIVATIONS = ("relu", "relu6", "leaky_relu")


def kinds(residual, Fixed, Shortcut) -> tuple:
    """The family's kinds, built on the post-activation ``residual`` kind with the record
    types of :mod:`archdsl.builder.blocks` (passed in: this module does not import it)."""
    BlockKind = type(residual)
    # ResNet's options, with the pre-activation projection (no BN on the shortcut).
    by_option = MappingProxyType({
        "A": Shortcut("identity", "pad"), "B": Shortcut("identity", "conv"),
        "C": Shortcut("conv", "conv"), "plain": Shortcut(None, None)})
    preact = BlockKind("preact", entry=("bn", "relu", "dropout", "conv"), shortcut=by_option,
                       merge="add", post=(), shared_preact=True, shrinks=False)
    one = (("kernel", (1, 1)), ("padding", (0, 0)), ("bias", True))
    se = BlockKind("se", fixed=(Fixed("pool", "gap"), Fixed("fc1", "conv", one, width=0),
                                Fixed("relu", "relu"), Fixed("fc2", "conv", one, width=1),
                                Fixed("sigmoid", "sigmoid")),
                   shortcut=Shortcut("identity", "identity"), merge="mul", shortcut_first=True,
                   merge_name="scale")
    return (preact, se, replace(residual, name="residual-se", gate=se),
            replace(preact, name="preact-se", gate=se))


def kind_of(kinds: Mapping[str, Any], layer: Layer, s: cfg.Settings):
    """The kind a bracket is placed as: its own (``residual`` by default), pre-activation
    under ``with preactivation``, with an SE gate when it has an SE row."""
    name = layer.block_kind
    if name == "residual" and s.preactivation:
        if not s.batchnorm:
            raise ArchError("a full pre-activation unit is BN → ReLU → conv, but batchnorm is "
                            "off", layer.span, hint="write 'with preactivation, batchnorm'")
        name = "preact"
    if "se" in layer.attrs and f"{name}-se" in kinds:
        name = f"{name}-se"
    return kinds[name]


def activated(site, name: str) -> bool:
    """Whether the block input ``name`` is already activated: a ReLU's output, or a max
    pool's of one (the stem conv-BN-ReLU-pool before a pre-activation network's first block)."""
    node = site.node(name)
    while node is not None and node.op == "maxpool":
        node = site.node(node.inputs[0])
    return node is not None and node.op in _ACTIVATIONS


def changes_shape(entries: list[Layer], block_in, stride: int) -> bool:
    """Whether the branch of ``entries`` changes its input's shape (so projects)."""
    return stride != 1 or entries[-1].attrs.get("out_channels") != block_in[1][0]


def step_unit(op: str, entry: Layer | None, s: cfg.Settings, span: Span) -> expand.Unit | None:
    """A block's ``relu`` step as the activation chosen (the entry's own, else the
    network's; None for linear) or its ``dropout`` step (None without a dropout row)."""
    at = span if entry is None else entry.span
    if op == "dropout":
        if entry is None or "dropout" not in entry.attrs:
            return None
        return expand.Unit("dropout", {"p": entry.attrs["dropout"]}, at, "dropout")
    act, attrs = entry.attrs["act"] if entry is not None and "act" in entry.attrs \
        else s.activation
    return None if act is None else expand.Unit(act, dict(attrs), at, "relu")


def no_activation_here(entry: Layer) -> ArchError:
    """The error for an activation written on a block's last conv, which has none of its own
    (a residual branch ends conv-BN; the ReLU follows the addition)."""
    return ArchError("the last conv of a residual branch has no activation of its own: its "
                     "ReLU comes after the addition", entry.span,
                     hint="choose the block's activation for the network or stage: 'with "
                          "activation relu6'; or write it after the block: '[…], relu6'")
