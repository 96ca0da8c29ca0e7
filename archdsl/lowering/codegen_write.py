"""Writing forward bodies and block classes: one variable per live value, following the
nodes' inputs; layers from the torch op table, inline ops written out."""
from __future__ import annotations

from archdsl.errors import ArchError
from archdsl.ir.graph import Node
from archdsl.lowering.codegen_blocks import BlockClass
from archdsl.lowering.codegen_items import Instance, check_ident, group_of
from archdsl.lowering.torch_ops import TORCH_OPS, Context


def doc(text: str) -> str:
    """``text`` made safe inside a triple-quoted docstring: nothing in it can end it."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def comment(text: str) -> str:
    """``text`` on one comment line (no line break can end the comment early)."""
    return " ".join(text.splitlines())


class Body:
    """Writes a forward body: one variable per live value, a value's variable taken over by
    the layer that reads it last (``out = self.bn1(out)``)."""

    AVOID = {"self", "torch", "nn", "F", "math", "OrderedDict"}

    def __init__(self, inputs: dict[str, str], last_use: dict[str, int], keep: set[str]):
        self.var = dict(inputs)
        self.last_use, self.keep = last_use, keep   # keep: values never overwritten
        self.lines: list[str] = []

    def emit(self, k: int, value: str, ins: tuple[str, ...], expr, hint: str = "out",
             augment: bool = False) -> str:
        """Write unit ``k``: ``value = expr(input variables)``. ``augment``: the unit may
        add in place into its first input (``out += identity``)."""
        args = [self.var[i] for i in ins]
        text = expr(args)
        first = ins[0] if ins else None
        # a one-input step takes over its input's variable; a merge (add, concat) is "out"
        if len(ins) == 1 and self.last_use.get(first) == k and first not in self.keep:
            target = args[0]
        else:
            live = {self.var[v] for v in self.var if self.last_use.get(v, -1) > k or v in self.keep}
            target, n = hint, 2
            while target in live | self.AVOID:
                target, n = f"{hint}{n}", n + 1
        if augment and args and target == args[0] and text.startswith(f"{target} + "):
            line = f"{target} += {text[len(target) + 3:]}"
        else:
            line = f"{target} = {text}"
        self.lines.append(line)
        self.var[value] = target
        return target


def last_uses(units: list[tuple[str, tuple[str, ...]]]) -> dict[str, int]:
    """Per value, the index of the last ``(value, inputs)`` unit that reads it."""
    last: dict[str, int] = {}
    for k, (_, ins) in enumerate(units):
        for i in ins:
            last[i] = k
    return last


def _chains(rep: Instance) -> list[tuple[str, list[Node]]]:
    """The layer groups of a block in IR order; a dotted group must be a chain."""
    groups: dict[str, list[Node]] = {}
    for n in rep.nodes:
        groups.setdefault(group_of(n.local_name), []).append(n)
    for g, members in groups.items():
        check_ident(g, "layer", members[0])
        if len(members) == 1 and "." not in members[0].local_name:
            continue
        for prev, n in zip(members, members[1:]):
            if n.inputs != (prev.name,) or TORCH_OPS[n.op].inline is not None:
                raise ArchError(f"{n.name}: the layers of group {g!r} must form a chain of "
                                "modules for model.py", n.span)
        names = {m.name for m in members[:-1]}
        for n in rep.nodes:
            if n not in members and names & set(n.inputs):
                raise ArchError(f"{n.name}: reads from inside group {g!r}", n.span)
        for m in members:
            rest = m.local_name.split(".", 1)[-1]
            if "." in rest or "." not in m.local_name or TORCH_OPS[m.op].inline is not None:
                raise ArchError(f"{m.name}: groups nest one level in model.py", m.span)
    return list(groups.items())


def block_class(cls: BlockClass, ctx: Context) -> list[str]:
    """The source lines of a block class: layers built in IR order, optional groups under
    their flag, a forward that follows the fullest instance's wiring."""
    rep = max(cls.instances, key=lambda i: len(i.nodes))
    groups = _chains(rep)
    what = f"block {cls.template!r} of the spec" if cls.template else "a block of the spec"
    text = [f'    """{doc(what[0].upper() + what[1:])}: {", ".join(g for g, _ in groups)}.']
    text += [f"    {g}=True builds the {g} layers; without them the {g} is the identity."
            for g in cls.optional]
    text[-1] += '"""'
    sig = cls.signature()
    lines = ["", "", f"class {cls.name}(nn.Module):", *text, "",
             f"    def __init__(self{', ' + sig if sig else ''}):", "        super().__init__()"]
    for g, members in groups:
        if TORCH_OPS[members[0].op].inline is not None:
            continue
        if "." in members[0].local_name:
            body = [f"self.{g} = nn.Sequential(OrderedDict(["]
            for m in members:
                expr, note = cls.sources[m.local_name]
                body.append(f"    ({m.local_name.split('.', 1)[1]!r}, {expr}),"
                            + (f"  # {comment(note)}" if note else ""))
            body.append("]))")
        else:
            expr, note = cls.sources[g]
            body = [f"self.{g} = {expr}" + (f"  # {comment(note)}" if note else "")]
        if g in cls.optional:
            body = [f"if {g}:", *("    " + b for b in body), "else:", f"    self.{g} = None"]
        lines += ["        " + b for b in body]
    lines += ["", "    def forward(self, x):"]
    ins = {f"${k}": "x" if k == 0 else f"x{k}" for k in range(len(rep.inputs))}
    if len(rep.inputs) > 1:
        lines[-1] = f"    def forward(self, {', '.join(ins.values())}):"
    local = {n.name: n.local_name for n in rep.nodes}
    ref = {n.name: {i: local.get(i, f"${rep.inputs.index(i)}" if i in rep.inputs else i)
                    for i in n.inputs} for n in rep.nodes}
    units = [(ms[-1].local_name, tuple(ref[ms[0].name][i] for i in ms[0].inputs)) for _, ms in groups]
    fw = Body(ins, last_uses(units), set(ins))
    inplace = {n.local_name for n in rep.nodes
               if all(m.name in ctx.inplace for i in cls.instances for m in i.nodes
                      if m.local_name == n.local_name)}
    for k, ((g, ms), (value, args)) in enumerate(zip(groups, units)):
        op = TORCH_OPS[ms[0].op]
        if op.inline is not None:
            fw.emit(k, value, args, lambda a, n=ms[0]: op.inline(n, ctx, a),
                    augment=ms[0].local_name in inplace)
        elif g in cls.optional:
            fw.emit(k, value, args, lambda a, g=g: f"{a[0]} if self.{g} is None else self.{g}({a[0]})",
                    hint=_hint(g, ms))
        else:
            fw.emit(k, value, args, lambda a, g=g: f"self.{g}({', '.join(a)})", hint=_hint(g, ms))
    out = fw.var[local[rep.output]]
    return lines + ["        " + ln for ln in fw.lines] + [f"        return {out}"]


def _hint(group: str, members: list[Node]) -> str:
    if all(m.role == "shortcut" for m in members):
        return "identity"
    return group if "." in members[0].local_name else "out"
