"""Import torchvision state dicts into lowered archdsl models, by structure.

torchvision's ResNet, VGG and AlexNet register their layers in execution order (a block's
``downsample`` after its main path), exactly as archdsl's IR orders nodes (the shortcut
after the main path). So both state dicts, grouped by layer (``conv2_x.0.bn1.*``), list the
same layers in the same order: we pair them one by one and require the same kind (conv,
batch norm, linear) and the same shape for every tensor, BN running statistics and
``num_batches_tracked`` included. Any disagreement is reported by name and shape.

Shapes alone cannot tell ResNet v1 from v1.5 (the stride moves from the 1×1 to the 3×3
conv): torchvision's ResNet-50/101/152 weights are v1.5, so loading them into a bottleneck
network whose stride is not on the 3×3 conv is refused unless ``check_variant=False``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch
from torch import nn

from archdsl.errors import ArchError, Span
from archdsl.ir.graph import dims_text


class WeightMismatch(ArchError, ValueError):
    """The state dict does not fit the model; ``problems`` lists each disagreement.

    An :class:`~archdsl.errors.ArchError` located at the spec line of the first layer that
    disagrees (when the model was lowered from a spec); still a ``ValueError`` for callers
    that caught it as one."""

    def __init__(self, problems: list[str], span: Span | None = None, source: str | None = None):
        self.problems = problems
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} weight mismatch(es):\n  {shown}{more}", span,
                         hint="load weights of the same architecture (torchvision's resnet*, "
                              "vgg*, vgg*_bn, alexnet), or pass strict=False",
                         source=source)


def _located(model: nn.Module, problems: list[str], layer: str | None) -> WeightMismatch:
    """A :class:`WeightMismatch` at the spec line of IR node (module) ``layer``, if known."""
    graph = getattr(model, "graph", None)
    node = next((n for n in graph.nodes if n.name == layer), None) if graph is not None and layer else None
    if node is None:
        return WeightMismatch(problems)
    return WeightMismatch(problems, node.span, graph.source or None)


@dataclass(frozen=True, slots=True)
class _Layer:
    """One layer's tensors in a state dict: its prefix, kind and ``{suffix: tensor}``."""
    prefix: str
    tensors: dict

    @property
    def kind(self) -> str:
        if "running_mean" in self.tensors:
            return "batchnorm"
        w = self.tensors.get("weight")
        if w is not None and w.dim() == 4:
            return "conv"
        if w is not None and w.dim() == 2:
            return "linear"
        return "other"

    def describe(self) -> str:
        shapes = ", ".join(f"{k} {dims_text(t.shape) or 'scalar'}"
                           for k, t in self.tensors.items())
        return f"{self.prefix} ({self.kind}: {shapes})"


@dataclass
class Loaded:
    """What :func:`load_torchvision_weights` did: ``pairs`` of (archdsl, torchvision) layer
    names, and with ``strict=False`` the layers left at their initial values and why."""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _layers(state_dict: Mapping[str, torch.Tensor]) -> list[_Layer]:
    out: list[_Layer] = []
    for key, t in state_dict.items():
        prefix, _, suffix = key.rpartition(".")
        if not out or out[-1].prefix != prefix:
            out.append(_Layer(prefix, {}))
        out[-1].tensors[suffix] = t
    return out


def _check_variant(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Refuse torchvision's (v1.5) bottleneck weights for a block strided on its first conv."""
    graph = getattr(model, "graph", None)
    if graph is None or "layer1.0.conv3.weight" not in state_dict:
        return
    v1 = [n.name for n in graph.nodes if n.block and n.local_name == "conv1" and n.op == "conv"
          and tuple(n["stride"]) != (1, 1) and any(m.name == f"{n.block}.conv3" for m in graph.nodes)]
    if v1:
        raise _located(model, [
            f"{graph.name} puts the downsampling stride on the first 1×1 conv ({v1[0]}: ResNet "
            "v1, the paper) but torchvision's bottleneck ResNets are v1.5 (stride on the 3×3 "
            "conv): the weights fit, the outputs would not; use the -v1.5 spec, or pass "
            "check_variant=False to load them anyway"], v1[0])


def load_torchvision_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                             strict: bool = True, check_variant: bool = True) -> Loaded:
    """Copy a torchvision ``state_dict`` (resnet*, vgg*, vgg*_bn, alexnet) into ``model``.

    Layers are paired in order; each pair must have the same kind and tensor shapes.
    ``strict``: every layer of both sides must pair up exactly, else :class:`WeightMismatch`
    lists every problem. With ``strict=False``, pairs whose shapes differ (a classifier
    with another number of classes) and unpaired trailing layers are skipped and listed in
    the returned :class:`Loaded`; a kind mismatch (conv vs linear) always raises.
    """
    if check_variant:
        _check_variant(model, state_dict)
    ours, theirs = _layers(model.state_dict()), _layers(state_dict)
    problems, loaded = [], Loaded()
    first: list[str] = []    # the archdsl layers the problems are about, in order
    new: dict[str, torch.Tensor] = {}
    for a, b in zip(ours, theirs):
        if a.kind != b.kind or set(a.tensors) != set(b.tensors):
            problems.append(f"{a.describe()} does not correspond to torchvision's {b.describe()}")
            first.append(a.prefix)
            continue
        bad = [k for k in a.tensors if a.tensors[k].shape != b.tensors[k].shape]
        if bad:
            msg = f"shape mismatch: {a.describe()} vs torchvision's {b.describe()}"
            (loaded.skipped if not strict else problems).append(msg)
            if strict:
                first.append(a.prefix)
            continue
        loaded.pairs.append((a.prefix, b.prefix))
        new.update((f"{a.prefix}.{k}", t) for k, t in b.tensors.items())
    extra = [f"archdsl layer {a.describe()} has no torchvision counterpart" for a in ours[len(theirs):]]
    extra += [f"torchvision layer {b.describe()} has no archdsl counterpart" for b in theirs[len(ours):]]
    # Unpaired layers go first: a layer-count difference (another network) is the root cause
    # and would otherwise drown below the shape mismatches it induces.
    if strict:
        problems[:0] = extra
        first[:0] = [a.prefix for a in ours[len(theirs):]]
    else:
        loaded.skipped.extend(extra)
    if problems:
        raise _located(model, problems, first[0] if first else None)
    model.load_state_dict(new, strict=strict)
    return loaded
