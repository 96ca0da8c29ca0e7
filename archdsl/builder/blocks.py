"""Block kinds as data: how a bracketed block becomes an IR subgraph.

A block is one or more *branches* of entries (the convolutions the spec writes in brackets),
an optional *shortcut* from the block's input, a *merge* op joining the branch outputs and the
shortcut, and a *post* pattern after the merge. Each kind of block is one :class:`BlockKind`
in :data:`KINDS`, picked by :func:`kind_of` from the layer's ``block_kind`` (``residual`` for
a bracket), the settings (``preact`` under ``with preactivation``) and an SE row (``-se``: the
residual-family kinds are in :mod:`archdsl.builder.blocks_res`); :func:`expand_block` reads it and places the nodes, so a new kind is a new entry, not
new code (compare timm's byobnet ``ByoBlockCfg`` / ``_block_registry``). Nothing after the
builder knows block kinds: it sees nodes.

Fields of a :class:`BlockKind`:

``name``
    Its key in :data:`KINDS`; for a gate, the prefix of its nodes' names.
``entry``
    The steps each entry becomes, in order. ``"conv"`` is the entry's own convolution (with
    the block's stride if it falls there); ``"bn"`` a batchnorm, placed only ``with
    batchnorm``; any other name a node of that op without attributes (``relu``, ``sigmoid``).
    Steps are named after the op and the entry's position: ``conv2``, ``bn2``, ``relu2``.
``last``
    The steps of a branch's last entry (None: as ``entry``). A residual branch ends conv-bn:
    its ReLU is the post pattern.
``fixed``
    Steps the kind places itself instead of the spec's entries (the squeeze and excite of an
    SE gate): its one branch. Each :class:`Fixed` has its own local name, op and attributes;
    a conv's ``reduce`` makes its out_channels the branch input's channels ÷ ``reduce``.
``gate``
    A kind placed on each branch's output after its last entry, its nodes named under the
    gate's name (``se.conv1``); the gate's shortcut is the branch output it gates.
``shortcut``
    The path from the block's input to the merge: a :class:`Shortcut` giving the form when
    the branch keeps the input's channels and size and the form when it changes them, or a
    mapping from the ``with shortcut`` option to one (:data:`BY_OPTION`). Forms:
    ``"identity"``; ``"pad"`` (option A: subsample, zero-pad the channels; ``shortcut``);
    ``"projection"`` (strided 1×1 conv and, with batchnorm, a bn: ``shortcut.conv``,
    ``shortcut.bn``); None: no shortcut.
``merge``
    The op joining the branch outputs and the shortcut (``add``; ``concat``, ``mul``), named
    after itself (``add``). Nothing is merged when there is a single input, or no merge op.
``shortcut_first``
    The shortcut is the merge's first input (a dense layer's ``cat(x, new)``, an SE
    gate's ``mul(x, gate)``); else the branches come first (``add(main, shortcut)``).
``post``
    Steps after the merge. Under ``with relu before add``, or when nothing is merged, they end
    each branch instead, named and located like its last entry (``relu3``).
``stem``, ``stem_name``, ``branch_names``, ``stride_on`` (#13c)
    The steps of the layer's ``entries``, placed in sequence under ``stem_name`` (a fire's
    squeeze) before its ``branches``; the branches' names (``expand1x1``; else ``branch1`` …);
    the kernel of the entry that takes the stride whatever ``with stride on`` says (None: it).

Several branches (a fire's two expand convs) are named ``branch1.conv1`` … or by
``branch_names``; one branch's nodes sit directly under the block (``conv2_x.0.conv1``). The
settings read here: ``batchnorm`` (the bn steps), ``shortcut`` (by-option shortcuts), ``relu
after/before add`` (where ``post`` goes) and ``stride on K×K`` (which entry takes the stride).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Protocol

from archdsl.builder import expand
from archdsl.builder import settings as cfg
from archdsl.builder.layer import Layer
from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Node
from archdsl.ir.ops import OPS


@dataclass(frozen=True, slots=True)
class Shortcut:
    """The shortcut's form when the branch keeps the input's shape, and when it changes it."""
    same: str | None
    changed: str | None


@dataclass(frozen=True, slots=True)
class Fixed:
    """A node a kind places itself. ``reduce``: a conv's out_channels are its input's ÷ this."""
    local: str
    op: str
    attrs: tuple[tuple[str, Any], ...] = ()
    reduce: int | None = None
    width: int | None = None   # out_channels: this one of the widths the spec's SE row gives


@dataclass(frozen=True, slots=True)
class BlockKind:
    """One kind of block; the fields are described in the module docstring."""
    name: str
    entry: tuple[str, ...] = ("conv", "bn", "relu")
    last: tuple[str, ...] | None = None
    fixed: tuple[Fixed, ...] = ()
    gate: BlockKind | None = None
    shortcut: Shortcut | Mapping[str, Shortcut] | None = None
    merge: str | None = None
    shortcut_first: bool = False
    post: tuple[str, ...] = ()
    stem: tuple[str, ...] | None = None
    stem_name: str = "stem"
    branch_names: tuple[str, ...] = ()
    stride_on: int | None = None
    # -- residual family (#13a); see builder/blocks_res.py
    shared_preact: bool = False   # pre-activation: see blocks_res
    merge_name: str | None = None  # a gate's merge, named beside the gate: see blocks_res
    # -- dense / inception (#13b); see builder/blocks_concat.py
    implied: tuple[int, int] | None = None   # widths of entries without one: × growth rate
    shrinks: bool = True                     # the block may give fewer channels than it takes
    strides: bool = True                     # the block may downsample (not one concatenated
                                             # onto its own input)
    columns: tuple[str, ...] = ()            # a row kind's columns, as the paper heads them
    taps: tuple[tuple["Tap", ...], ...] = ()  # a row kind's branches, read from its columns
    template: str | None = None              # the template its nodes keep (codegen's class)


@dataclass(frozen=True, slots=True)
class Tap:
    """One layer of a row kind's branch (GoogLeNet's inception): ``op`` (conv, maxpool) with a
    ``kernel``; a conv's width is the row's column ``column``. ``setting`` names the
    Settings field that replaces the kernel (torchvision's 3×3 in the 5×5 branch)."""
    op: str
    kernel: int
    column: int | None = None
    setting: str | None = None


# ResNet's options (He et al. 2016, Sec. 3.3): A zero-pads, B projects when the dimensions
# change, C always projects; plain networks have no shortcut.
BY_OPTION: Mapping[str, Shortcut] = MappingProxyType({
    "A": Shortcut("identity", "pad"), "B": Shortcut("identity", "projection"),
    "C": Shortcut("projection", "projection"), "plain": Shortcut(None, None)})

# "dropout" steps are placed only for an entry with a dropout row before it (#13a).
RESIDUAL = BlockKind("residual", entry=("dropout", "conv", "bn", "relu"),
                     last=("dropout", "conv", "bn"), shortcut=BY_OPTION, merge="add",
                     post=("relu",), shrinks=False)

from archdsl.builder import blocks_res  # noqa: E402  (its kinds build on the ones above)
# The concatenating kinds (#13b) live in their own module, made with the classes above.
from archdsl.builder import blocks_concat  # noqa: E402
from archdsl.builder.blocks_concat import implied_width, shrink_error, unstrided_error  # noqa: E402

KINDS: Mapping[str, BlockKind] = MappingProxyType({k.name: k for k in (
    RESIDUAL,
    *blocks_res.kinds(RESIDUAL, Fixed, Shortcut),   # -- residual family (#13a): pre-activation, SE
    # -- fire / mobile (#13c), spec words in builder/mobile.py. SqueezeNet (Sec. 3.2): squeeze
    # 1×1, then expand 1×1 and 3×3 side by side, concatenated. MobileNet v2 (Table 1): 1×1
    # expand, 3×3 dw (strided), ReLU6, linear 1×1; the input added only if the shape is kept.
    BlockKind("fire", stem=("conv", "bn", "relu"), stem_name="squeeze",
              branch_names=("expand1x1", "expand3x3"), merge="concat"),
    BlockKind("inverted_residual", entry=("conv", "bn", "relu6"), last=("conv", "bn"),
              shortcut=Shortcut("identity", None), merge="add", stride_on=3),
    # -- dense / inception (#13b)
    *blocks_concat.kinds(BlockKind, Shortcut, Tap),
)})
# Row kinds: a word that, with the row's columns in parentheses, is one block (inception).
ROW_KINDS: Mapping[str, BlockKind] = MappingProxyType({k.name: k for k in KINDS.values()
                                                      if k.columns})


def kind_of(layer: Layer, s: cfg.Settings) -> BlockKind:
    """The kind block ``layer`` is placed as, under settings ``s``."""
    return blocks_res.kind_of(KINDS, layer, s)


class Site(Protocol):
    """Where a block is placed (:class:`archdsl.builder.place.BlockSite`)."""
    src: str                       # the block's input
    shape: tuple[int, ...]         # and its shape

    def emit(self, unit: expand.Unit, local: str, role: str, inputs: tuple[str, ...]
             ) -> Node | None:
        """Place ``unit`` as node ``<block>.<local>``; None where it could not be placed."""

    def fail(self, error: ArchError) -> None:
        """Record ``error`` and raise it with those recorded before."""

    def node(self, name: str) -> Node | None:
        """The node placed as ``name`` (None for the network input)."""


@dataclass(frozen=True, slots=True)
class _Block:
    """What every step of one block placement reads."""
    layer: Layer
    site: Site
    s: cfg.Settings
    notes: tuple[tuple[str, Span], ...]   # the named block's definition, for merge errors


Out = tuple[str, tuple[int, ...]]   # a producer and its shape


def expand_block(kind: BlockKind, layer: Layer, site: Site, s: cfg.Settings, rep: int,
                 declared: tuple[int, ...] | None) -> None:
    """Place copy ``rep`` of block ``layer`` as ``kind`` says, after ``site.src``.

    ``declared`` is the stage's output size when the block is the stage's first layer: its
    first copy then takes the stride that reaches it, unless the spec states one."""
    in_shape = site.shape
    if len(in_shape) != 3:
        site.fail(ArchError("a block needs a feature map, but its input is flat", layer.span,
                            hint="put the blocks before the flatten / fully connected layers"))
    stride = 1
    if rep == 0:
        if "stride" in layer.explicit:
            stride = layer.attrs["stride"][0]
        elif declared is not None:
            stride = expand.implied_stride(in_shape[1], declared[0])
    notes = ((f"block '{layer.block_name}' is defined here", layer.block_span),) \
        if layer.block_span else ()
    if stride != 1 and not kind.strides:
        site.fail(unstrided_error(kind, in_shape, stride, layer.span))
    _place(kind, (site.src, in_shape), stride, "", _Block(layer, site, s, notes))


def _place(kind: BlockKind, block_in: Out, stride: int, prefix: str, b: _Block) -> Out:
    """Branches, shortcut, merge and post of ``kind`` after ``block_in``; the output."""
    before = not b.s.relu_after_add        # post ends each branch rather than the block
    paths = [None] if kind.fixed else (b.layer.branches or [b.layer.entries])
    split = block_in                       # where the branches start
    if kind.stem is not None and b.layer.branches:
        for i, entry in enumerate(b.layer.entries, 1):
            split = _steps(kind.stem, split, i, entry, stride if i == 1 else 1,
                           f"{prefix}{kind.stem_name}.", b)
        stride = 1
    outs, short_in = [], block_in
    skip = kind.shared_preact and blocks_res.activated(b.site, block_in[0])
    for j, entries in enumerate(paths, 1):
        name = kind.branch_names[j - 1] if j <= len(kind.branch_names) else f"branch{j}"
        p = prefix + (f"{name}." if len(paths) > 1 else "")
        if entries is None:
            out = _fixed(kind.fixed, split, p, b)
        else:
            out, pre = _branch(kind, entries, split, stride, p, b, skip)
            if j == 1 and kind.shared_preact and blocks_res.changes_shape(entries, block_in,
                                                                           stride):
                short_in = pre   # the projection reads the pre-activated input
        outs.append(_post(kind, out, entries, p, b) if before else out)
    short = _shortcut(kind, short_in, outs[0], stride, prefix, b)
    inputs = [o for o, _ in outs] + ([] if short is None else [short])
    if short is not None and kind.shortcut_first:
        inputs = inputs[-1:] + inputs[:-1]
    if kind.merge is None or len(inputs) == 1:   # nothing merged: post ends the branch
        return outs[0] if before else _post(kind, outs[0], paths[0], prefix, b)
    # A gate's merge sits beside the gate (``se`` then ``scale``), so that the gate's own
    # nodes are one chain, as model.py writes them.
    local = prefix[:-len(kind.name) - 1] + kind.merge_name if kind.merge_name \
        else prefix + kind.merge
    out = _unit(b, expand.Unit(kind.merge, {}, b.layer.span, kind.merge, notes=b.notes),
                local, "main", tuple(inputs), outs[0])
    return out if before else _post(kind, out, None, prefix, b)


def _branch(kind: BlockKind, entries: list[Layer], block_in: Out, stride: int, prefix: str,
            b: _Block, skip: bool = False) -> tuple[Out, Out]:
    """One branch of spec entries: each entry's steps (the last entry's own), then a gate.
    Also the producer just before its first conv (a pre-activated input). ``skip``: the
    first entry's steps before its conv are left out (its input is already activated)."""
    target = _stride_target(entries, b.s if kind.stride_on is None
                            else cfg.Settings(stride_on=kind.stride_on))
    out, k, pre = block_in, len(entries), block_in
    for i, entry in enumerate(entries, 1):
        steps = kind.last if i == k and kind.last is not None else kind.entry
        if entry.kind != "conv":      # a pool in a branch (inception's pool proj) is itself
            steps = ("layer",)
        elif "out_channels" not in entry.attrs and not (
                entry.attrs.get("depthwise") or "expand" in entry.attrs):
            # a dw conv keeps its input's channels, an expansion multiplies them (mobile.py)
            entry = implied_width(kind, entry, i == k, b)
        if "act" in entry.attrs and "relu" not in steps:   # it would have no effect
            b.site.fail(blocks_res.no_activation_here(entry))
        if i == 1 and "conv" in steps:
            lead = steps[:steps.index("conv")]
            pre = out = _steps(tuple(x for x in lead if x == "dropout") if skip else lead,
                               out, i, entry, 1, prefix, b)
            steps = steps[len(lead):]
        out = _steps(steps, out, i, entry, stride if i - 1 == target else 1, prefix, b)
    if kind.gate is not None:
        out = _place(kind.gate, out, 1, f"{prefix}{kind.gate.name}.", b)
    return out, pre


def _post(kind: BlockKind, out: Out, entries: list[Layer] | None, prefix: str, b: _Block) -> Out:
    """``kind.post`` after ``out``: at the end of a branch of ``entries``, named and located
    like its last entry (``relu3``); else under its op's name at the block (``relu``)."""
    if entries is None:
        return _steps(kind.post, out, None, None, 1, prefix, b)
    return _steps(kind.post, out, len(entries), entries[-1], 1, prefix, b)


def _steps(steps: tuple[str, ...], out: Out, i: int | None, entry: Layer | None, stride: int,
           prefix: str, b: _Block) -> Out:
    """The ``steps`` of entry ``i``, named ``<op><i>`` and located at the entry; without an
    entry, named ``<op>`` and located at the block."""
    for op in steps:
        if op == "bn" and not b.s.batchnorm:
            continue
        if op == "layer":
            [unit] = expand.units(entry, b.s, False)
            out = _unit(b, unit, f"{prefix}{unit.base}{i}", "main", (out[0],), out)
            continue
        if op in ("relu", "dropout"):   # the activation chosen; a dropout row's dropout (#13a)
            unit = blocks_res.step_unit(op, entry, b.s, b.layer.span)
            if unit is not None:
                out = _unit(b, unit, f"{prefix}{op}{'' if i is None else i}", "main",
                            (out[0],), out)
            continue
        if op == "conv":
            # A named block's conv fails for the arguments of one use: point at that use,
            # and at the conv in the definition.
            named = b.layer.block_span is not None
            unit = expand.Unit("conv", expand.conv_attrs(entry.attrs, b.s, (stride, stride)),
                               entry.span, "conv", entry, b.layer.span if named else None,
                               ((f"in this convolution of block '{b.layer.block_name}'",
                                 entry.span),) if named else ())
        else:
            unit = expand.Unit(op, _step_attrs(op, b.s), b.layer.span if entry is None else entry.span,
                               op)
        base = OPS[op].base      # relu6 is named like a relu (relu1)
        out = _unit(b, unit, f"{prefix}{base}{'' if i is None else i}", "main", (out[0],), out)
    return out


def _fixed(steps: tuple[Fixed, ...], block_in: Out, prefix: str, b: _Block) -> Out:
    """A kind's own steps after ``block_in``, located at the block's use."""
    out, channels = block_in, block_in[1][0]
    for f in steps:
        a = {**_step_attrs(f.op, b.s), **dict(f.attrs)}
        if f.reduce is not None:
            a["out_channels"] = channels // f.reduce
        if f.width is not None:
            a["out_channels"] = b.layer.attrs["se"][f.width]
        if f.op == "conv":
            a = expand.conv_attrs(a, b.s)
        # A gate's nodes are not the network's depth (SE-ResNet-50 has 50 layers).
        out = _unit(b, expand.Unit(f.op, a, b.layer.span, f.op), prefix + f.local, "gate",
                    (out[0],), out)
    return out


def _shortcut(kind: BlockKind, block_in: Out, main: Out, stride: int, prefix: str,
              b: _Block) -> str | None:
    """Place the shortcut ``kind`` asks for; its output's name, or None without one."""
    rule = kind.shortcut.get(b.s.shortcut) if isinstance(kind.shortcut, Mapping) \
        else kind.shortcut
    if rule is None:
        return None
    (src, in_shape), channels = block_in, main[1][0]
    form = rule.changed if channels != in_shape[0] or stride != 1 else rule.same
    if not kind.shrinks and channels < in_shape[0] and form in ("projection", "conv"):
        b.site.fail(shrink_error(in_shape[0], channels, b.layer.span, b.notes))
    if form == "pad":
        if channels < in_shape[0]:
            b.site.fail(ArchError(
                f"option A cannot shrink {in_shape[0]} channels to {channels} by zero-padding",
                b.layer.span, hint="use 'with shortcut B' (projection)", notes=b.notes))
        pad = {"stride": stride, "pad_before": 0, "pad_after": channels - in_shape[0]}
        return _unit(b, expand.Unit("pad_shortcut", pad, b.layer.span, "shortcut"),
                     prefix + "shortcut", "shortcut", (src,), block_in)[0]
    if form in ("projection", "conv"):   # "conv": without a bn (pre-activation)
        projection = {"kernel": (1, 1), "out_channels": channels, "padding": (0, 0)}
        a = expand.conv_attrs(projection, b.s, (stride, stride))
        out = _unit(b, expand.Unit("conv", a, b.layer.span, "conv"), prefix + "shortcut.conv",
                    "shortcut", (src,), block_in)
        if b.s.batchnorm and form == "projection":
            out = _unit(b, expand.Unit("bn", expand.bn_attrs(b.s), b.layer.span, "bn"),
                        prefix + "shortcut.bn", "shortcut", (out[0],), out)
        return out[0]
    return src if form == "identity" else None


def _unit(b: _Block, unit: expand.Unit, local: str, role: str, inputs: tuple[str, ...],
          out: Out) -> Out:
    """Place ``unit``; the new producer, or ``out`` unchanged where it could not be placed."""
    node = b.site.emit(unit, local, role, inputs)
    return out if node is None else (node.name, node.shape)


def _step_attrs(op: str, s: cfg.Settings | None = None) -> dict[str, Any]:
    return expand.bn_attrs(s) if op == "bn" else {}


def _stride_target(entries: list[Layer], s: cfg.Settings) -> int:
    """Which conv of a branch takes the block's stride: the first one ``with stride on K×K``
    names, else the first conv. The fallback is deliberate: ResNet's prose ("stride 2 on the
    first 1×1") covers its basic blocks too, whose first conv is a 3×3 (Table 1's 18/34
    columns)."""
    return next((i for i, e in enumerate(entries) if e.attrs["kernel"][0] == s.stride_on), 0)
