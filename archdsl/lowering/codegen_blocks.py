"""Block classes for generated source: which block instances share a class, and its arguments.

Instances of one template (``Node.template``; the structural layout when
it is unset) share a class when their wiring agrees up to optional layer groups (a
projection or zero-pad shortcut that only some instances have) and their layers differ
only in integer attributes. Those attributes become the class's ``__init__`` parameters:
a layer's constructor is rendered by the torch op table (:data:`.torch_ops.TORCH_OPS`)
with a unique marker integer in place of each varying value, and the marker is then
replaced by the parameter's name, so the class builds exactly the layers the table does.
Instances that cannot share a class are split apart until they can.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from archdsl.ir.graph import Graph, Node
from archdsl.ir.ops import OPS
from archdsl.lowering.codegen_items import RESERVED, Instance, class_name, group_of
from archdsl.lowering.torch_ops import Context, layer_source


class _Sentinel:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


ABSENT = _Sentinel("ABSENT")      # the value of a layer an instance does not have
REQUIRED = _Sentinel("REQUIRED")  # the default of a parameter that has none
MARK = 987_650_000                           # markers: MARK + k, never a real size
_CHANNELS = {"in_channels", "out_channels", "channels", "in_features", "out_features"}
_NAMES = {"kernel": "kernel_size"}


@dataclass(frozen=True, slots=True)
class Param:
    """An ``__init__`` argument of a block class: per-instance values (ABSENT where the
    instance lacks the layers that read it) and its default (REQUIRED, None or a value)."""
    name: str
    values: tuple
    default: Any


@dataclass(frozen=True, slots=True, eq=False)
class BlockClass:
    """A generated block class: the instances it builds, the layout of its fullest
    instance, the optional layer groups (each a boolean argument), its parameters and
    each layer's constructor source with the parameters written in."""
    name: str
    template: str | None
    instances: tuple[Instance, ...]
    layers: tuple[Node, ...]
    optional: tuple[str, ...]
    params: tuple[Param, ...]
    sources: dict[str, tuple[str, str]]
    index: dict[str, int]          # instance name -> its position in ``instances``

    def signature(self) -> str:
        """``in_channels, width, out_channels, stride=1, shortcut=False``."""
        args = [p.name if p.default is REQUIRED else f"{p.name}={p.default!r}"
                for p in self.params if p.default is not None]
        args += [f"{g}=False" for g in self.optional]
        args += [f"{p.name}=None" for p in self.params if p.default is None]
        return ", ".join(args)

    def call(self, inst: Instance) -> str:
        """The constructor call that builds ``inst``: ``Bottleneck(64, 64, 256, shortcut=True)``."""
        k = self.index[inst.name]
        locals_ = {n.local_name for n in inst.nodes}
        args = [repr(p.values[k]) for p in self.params if p.default is REQUIRED]
        args += [f"{p.name}={p.values[k]!r}" for p in self.params
                 if p.default not in (REQUIRED, None) and p.values[k] != p.default]
        args += [f"{g}=True" for g in self.optional
                 if any(group_of(n) == g for n in locals_)]
        args += [f"{p.name}={p.values[k]!r}" for p in self.params
                 if p.default is None and p.values[k] is not ABSENT]
        return f"{self.name}({', '.join(args)})"


class _Split(Exception):
    """The instances cannot share a class: ``key`` tells them apart."""

    def __init__(self, key):
        self.key = key


def block_classes(items: list[Instance], graph: Graph, ctx: Context,
                  taken: set[str]) -> dict[str, BlockClass]:
    """Fit classes to the block instances; returns instance name -> its class.
    ``taken`` holds the names a class must not take (the network class, helpers)."""
    groups: dict[Any, list[Instance]] = {}
    for inst in items:
        t = inst.nodes[0].template
        key = ("t", t) if t else ("s", tuple((n.local_name, n.op) for n in inst.nodes
                                             if n.role != "shortcut"))
        groups.setdefault(key, []).append(inst)
    work, fitted = list(groups.values()), []
    while work:
        insts = work.pop(0)
        try:
            fitted.append(_fit(insts, graph, ctx))
        except _Split as s:
            parts: dict[Any, list[Instance]] = {}
            for inst in insts:
                parts.setdefault(s.key(inst), []).append(inst)
            work[0:0] = list(parts.values())
    out: dict[str, BlockClass] = {}
    position = {inst.name: k for k, inst in enumerate(items)}
    for cls in sorted(fitted, key=lambda c: position[c.instances[0].name]):
        name = _unique(_base_name(cls), taken)
        taken.add(name)
        cls = dataclasses.replace(cls, name=name)
        out.update((inst.name, cls) for inst in cls.instances)
    return out


def _fit(insts: list[Instance], graph: Graph, ctx: Context) -> BlockClass:
    rep = max(insts, key=lambda i: len(i.nodes))
    optional = _optional_groups(insts, rep)
    per = [{n.local_name: n for n in inst.nodes} for inst in insts]
    slots: dict[tuple, tuple] = {}   # (local, key, component|None) -> values per instance
    for n in rep.nodes:
        for key, _ in n.attrs:
            vals = tuple(p[n.local_name][key] if n.local_name in p else ABSENT for p in per)
            present = [v for v in vals if v is not ABSENT]
            if len(set(present)) <= 1:
                continue
            if all(_is_int(v) for v in present):
                slots[(n.local_name, key, None)] = vals
            elif all(isinstance(v, tuple) and len(v) == len(present[0])
                     and all(map(_is_int, v)) for v in present):
                for c in range(len(present[0])):
                    comp = tuple(ABSENT if v is ABSENT else v[c] for v in vals)
                    if len({v for v in comp if v is not ABSENT}) > 1:
                        slots[(n.local_name, key, c)] = comp
            else:
                raise _Split(_attr_key(n.local_name, key))
    params, slot_param = _merge(slots)
    sources = {}
    for n in rep.nodes:
        mine = {s: slot_param[s] for s in slots if s[0] == n.local_name}
        renders = {}
        for inst, p in zip(insts, per):
            if n.local_name in p:
                renders[inst.name] = layer_source(_marked(p[n.local_name], mine), ctx)
        if len(set(renders.values())) > 1:
            raise _Split(lambda inst, r=renders, n=n.local_name: r.get(inst.name))
        expr, note = next(iter(renders.values()))
        for s, k in mine.items():
            if not re.search(rf"(?<![\w.]){MARK + k}(?![\w.])", expr):
                raise _Split(_attr_key(n.local_name, s[1]))  # the value is not written as is
        sources[n.local_name] = (expr, note)
    by_marker, signature = _name_params(params, insts, rep, graph)
    names = [p.name for p in by_marker]
    for local, (expr, note) in sources.items():
        sources[local] = (_unmark(expr, names), _unmark(note, names))
    return BlockClass("", rep.nodes[0].template, tuple(insts), rep.nodes, optional,
                      signature, sources, {inst.name: k for k, inst in enumerate(insts)})


def _attr_key(local: str, key: str):
    return lambda inst: next((n[key] for n in inst.nodes if n.local_name == local), ABSENT)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _optional_groups(insts: list[Instance], rep: Instance) -> tuple[str, ...]:
    """The layer groups of ``rep`` that some instances lack. Each must be a chain whose
    absence means its input passes through (an identity shortcut); else the instances are
    split by wiring."""
    full = rep.wiring()
    missing_any: set[str] = set()
    for inst in insts:
        have = {n.local_name for n in inst.nodes}
        gone = {group_of(l) for l, _, _ in full if l not in have}
        if _without(full, gone) != inst.wiring():
            raise _Split(lambda i: i.wiring())
        missing_any |= gone
    return tuple(dict.fromkeys(group_of(l) for l, _, _ in full if group_of(l) in missing_any))


def _without(wiring: tuple, groups: set[str]) -> tuple | None:
    """``wiring`` with ``groups`` removed and their outputs replaced by their inputs."""
    subst: dict[str, str] = {}
    kept = []
    for local, op, refs in wiring:
        refs = tuple(subst.get(r, r) for r in refs)
        if group_of(local) in groups:
            if len(refs) != 1:
                return None
            subst[local] = refs[0]   # a chain: the next member reads this one
        else:
            kept.append((local, op, refs))
    return tuple(kept)


def _merge(slots: dict[tuple, tuple]) -> tuple[list[tuple[tuple, list[tuple]]], dict]:
    """Slots with equal values (where both are defined) share one parameter; complete
    slots are placed first, so a partial one joins a complete one when it can."""
    params: list[list] = []   # [values, slots]
    slot_param: dict[tuple, int] = {}
    for s in sorted(slots, key=lambda s: ABSENT in slots[s]):   # stable: IR order within
        vals = slots[s]
        for k, (pv, members) in enumerate(params):
            if all(a is ABSENT or b is ABSENT or a == b for a, b in zip(pv, vals)):
                params[k][0] = tuple(b if a is ABSENT else a for a, b in zip(pv, vals))
                members.append(s)
                slot_param[s] = k
                break
        else:
            slot_param[s] = len(params)
            params.append([vals, [s]])
    return [tuple(p) for p in params], slot_param


def _marked(node: Node, mine: dict[tuple, int]) -> Node:
    """``node`` with each slot's value replaced by its parameter's marker."""
    attrs = dict(node.attrs)
    for (_, key, comp), k in mine.items():
        if comp is None:
            attrs[key] = MARK + k
        else:
            v = list(attrs[key])
            v[comp] = MARK + k
            attrs[key] = tuple(v)
    return dataclasses.replace(node, attrs=tuple(sorted(attrs.items())))


def _unmark(text: str, names: list[str]) -> str:
    return re.sub(rf"(?<![\w.]){MARK // 1000}(\d\d\d)(?![\w.])",
                  lambda m: names[int(m.group(1))], text)


def _name_params(params, insts: list[Instance], rep: Instance,
                 graph: Graph) -> tuple[list[Param], tuple[Param, ...]]:
    """Names (in_channels, width, out_channels, stride, …) and defaults; returns the
    parameters by marker and in signature order (channels first, as torchvision's)."""
    shapes = graph.shapes
    ins = tuple(shapes[i.inputs[0]][0] for i in insts)
    outs = tuple(shapes[i.output][0] for i in insts)

    def fits(vals: tuple, vec: tuple) -> bool:
        return all(a == b for a, b in zip(vals, vec) if a is not ABSENT)

    by_marker: list[Param] = []
    rank: dict[str, int] = {}
    taken = RESERVED | {group_of(n.local_name) for n in rep.nodes}
    for vals, members in params:
        key = members[0][1]
        if key in _CHANNELS:
            base, r = {(True, True): ("channels", 0), (True, False): ("in_channels", 0),
                       (False, True): ("out_channels", 2)}.get(
                           (fits(vals, ins), fits(vals, outs)), ("width", 1))
        else:
            base, r = _NAMES.get(key, key), 3
        name = _unique(base if base.isidentifier() else "arg", taken)
        taken = taken | {name}
        if ABSENT in vals:
            default = None
        elif r == 3:
            default = Counter(vals).most_common(1)[0][0]
        else:
            default = REQUIRED
        by_marker.append(Param(name, vals, default))
        rank[name] = r
    return by_marker, tuple(sorted(by_marker, key=lambda p: rank[p.name]))


def _unique(base: str, taken: set[str]) -> str:
    name, k = base, 2
    while name in taken:
        name, k = f"{base}{k}", k + 1
    return name


def _base_name(cls: BlockClass) -> str:
    """From the template (``bottleneck`` -> ``Bottleneck``), else torchvision's names for a
    main chain: two weighted layers and a merge -> BasicBlock, three -> Bottleneck."""
    if cls.template:
        return class_name(cls.template)
    main = [n for n in cls.layers if n.role == "main"]
    if any("." in n.local_name for n in main):   # branches: no torchvision name fits
        return "Block"
    weighted = sum(1 for n in main if OPS[n.op].weighted)
    if not any(len(n.inputs) > 1 for n in cls.layers):
        return "PlainBlock"
    return {2: "BasicBlock", 3: "Bottleneck"}.get(weighted, f"Block{weighted}")
