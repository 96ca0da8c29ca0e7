"""A layered layout for a DAG of boxes: ranks top to bottom, branches side by side.

Generic over the graph (it sees indices, inputs and box sizes, never ops): a chain stays in
one column; the consumers that branch off one producer (inception's parallel paths, fire's
two expands) are spread symmetrically around it, shortcut-side boxes to the right of the
main path (as the papers draw projections); a join (``add``, ``concat``, ``mul``) sits
under the node that dominates all its inputs, where the paths split, so a module's output
lines up with its input and nothing drifts. Every box of one rank shares a horizontal band
and boxes of a band are pushed apart, so boxes never overlap. Linear in the boxes (a join's
dominator walk is as long as its branches), so ResNet-1202's 4,209 nodes lay out at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Item:
    """A box to place: ``inputs`` are indices of earlier items (none: fed by the network
    input), ``side`` marks boxes off the main path (shortcut projections)."""
    inputs: tuple[int, ...]
    w: float
    h: float
    side: bool = False


@dataclass(slots=True)
class Placed:
    """A placed box: centre ``x``, top ``y``, size and rank (its band)."""
    x: float
    y: float
    w: float
    h: float
    rank: int

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(slots=True)
class Layout:
    boxes: list[Placed] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def _dominators(items: list[Item]) -> list[int]:
    """Immediate dominator of each item (-1: the network input), in one pass: the items are
    in topological order, so a join's dominator is the meet of its inputs' dominators."""
    idom: list[int] = []
    for it in items:
        if not it.inputs:
            idom.append(-1)
            continue
        d = it.inputs[0]
        for b in it.inputs[1:]:
            a = d
            while a != b:     # the larger index is never the root, so idom[...] is defined
                if a > b:
                    a = idom[a]
                else:
                    b = idom[b]
            d = a
        idom.append(d)
    return idom


def _offsets(items: list[Item], parent: int, branches: list[int], gap: float) -> dict[int, float]:
    """Horizontal offsets of the items that branch off ``parent``: main ones centred under
    it, side ones (shortcut projections) to their right."""
    inherit = items[parent].side if parent >= 0 else False
    mains = [b for b in branches if items[b].side == inherit]
    sides = [b for b in branches if items[b].side != inherit]
    out: dict[int, float] = {}
    pitch = max((items[b].w for b in mains), default=0.0) + gap
    for k, b in enumerate(mains):
        out[b] = (k - (len(mains) - 1) / 2) * pitch
    edge = (len(mains) - 1) / 2 * pitch + (pitch - gap) / 2 if mains else 0.0
    for b in sides:
        out[b] = edge + gap + items[b].w / 2
        edge = out[b] + items[b].w / 2
    return out


def layout(items: list[Item], gap_x: float = 28.0, gap_y: float = 10.0,
           fan_gap: float = 14.0) -> Layout:
    """Place ``items`` (topologically ordered); coordinates start at 0, 0."""
    if not items:
        return Layout()
    rank: list[int] = []
    for it in items:
        rank.append(1 + max((rank[j] for j in it.inputs), default=-1))
    idom = _dominators(items)
    branches: dict[int, list[int]] = {}
    for i, it in enumerate(items):
        if len(it.inputs) <= 1:
            branches.setdefault(it.inputs[0] if it.inputs else -1, []).append(i)
    offset: dict[int, float] = {}
    for parent, kids in branches.items():
        offset.update(_offsets(items, parent, kids, gap_x))
    # band by band, so a box pushed aside carries the boxes below it along
    bands: dict[int, list[int]] = {}
    for i, r in enumerate(rank):
        bands.setdefault(r, []).append(i)
    xs = [0.0] * len(items)
    heights, fans = {}, {}
    for r in sorted(bands):
        members = bands[r]
        for i in members:
            it = items[i]
            if len(it.inputs) > 1:
                xs[i] = xs[idom[i]] if idom[i] >= 0 else 0.0
            else:
                xs[i] = (xs[it.inputs[0]] if it.inputs else 0.0) + offset[i]
        members.sort(key=lambda i: xs[i])
        for a, b in zip(members, members[1:]):
            need = xs[a] + (items[a].w + items[b].w) / 2 + gap_x
            if xs[b] < need:
                xs[b] = need
        heights[r] = max(items[i].h for i in members)
        # a band that fans out or joins gets room for its edges' S-bends
        fans[r] = any(abs(xs[i] - xs[j]) > 1 for i in members for j in items[i].inputs)
    tops, y = {}, 0.0
    for r in sorted(bands):
        y += fan_gap if fans[r] and r else 0.0
        tops[r] = y
        y += heights[r] + gap_y
    boxes = [Placed(xs[i], tops[rank[i]] + (heights[rank[i]] - it.h) / 2, it.w, it.h, rank[i])
             for i, it in enumerate(items)]
    left = min(b.left for b in boxes)
    for b in boxes:
        b.x -= left
    return Layout(boxes, max(b.right for b in boxes), y - gap_y)
