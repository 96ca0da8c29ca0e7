"""Cross-check the analytic counts (:mod:`archdsl.analysis.count`) against torch and fvcore.

The only torch-importing part of counting: it lowers a graph (or takes a module whose
module names are the IR node names), runs fvcore's ``FlopCountAnalysis`` and torch's
``FlopCounterMode`` on a real CPU tensor (fvcore traces with ``torch.jit.trace`` and cannot
use meta tensors), and compares total and per-module figures with the ``fvcore``
convention, and every module's parameter count with ``Tensor.numel``.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from archdsl.analysis.count import Counts, count
from archdsl.ir.graph import Graph, Shape, dims_text


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One disagreement: where (a module name or ``total``), what, predicted and measured."""
    name: str
    what: str
    expected: int
    measured: int

    def __str__(self) -> str:
        diff = self.measured - self.expected
        return (f"{self.name}: {self.what} predicted {self.expected:,} measured "
                f"{self.measured:,} ({diff:+,})")


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of :func:`verify`: the predicted counts, the measurements, the mismatches."""
    counts: Counts
    fvcore_total: int
    torch_params: int
    flop_counter_total: int | None
    compared: int
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def render(self) -> str:
        """A short human summary, then one line per mismatch."""
        c = self.counts
        head = (f"verify {c.network} at {c.batch}×{dims_text(c.input_shape)}: "
                f"params {self.torch_params:,} (torch) vs {c.total.params:,}; "
                f"fvcore {self.fvcore_total:,} vs {c.total.cost:,}")
        if self.flop_counter_total is not None:
            head += f"; FlopCounterMode {self.flop_counter_total:,} vs 2×MACs {c.total.flops:,}"
        lines = [head, f"{self.compared} figures compared, "
                 + ("all agree" if self.ok else f"{len(self.mismatches)} disagree:")]
        lines += [f"  {m}" for m in self.mismatches]
        return "\n".join(lines)


def fvcore_flops(model: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int]]:
    """fvcore's total and per-module "flops" for ``model(x)``, in eval mode, warnings off."""
    model.eval()  # fvcore counts BatchNorm 2/element in eval but 5/element in training
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore's import and jit.trace warn (deprecations)
        from fvcore.nn import FlopCountAnalysis  # here: fvcore pulls in iopath etc.
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # fvcore logs every unsupported op (relu, add…)
        try:
            fca = FlopCountAnalysis(model, x)
            fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return int(fca.total()), {k: int(v) for k, v in fca.by_module().items()}
        finally:
            logging.disable(previous)


def flop_counter_flops(model: nn.Module, x: torch.Tensor) -> int:
    """torch's own ``FlopCounterMode`` total for ``model(x)``: 2 per conv/matmul MAC."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


def verify(graph: Graph, input: Shape | None = None, batch: int = 1,
           model: nn.Module | None = None, flop_counter: bool = True) -> Verification:
    """Compare ``count(graph, input, batch, "fvcore")`` with what torch and fvcore measure.

    ``model`` defaults to ``archdsl.lowering.create_model(graph)``; its module names must be
    the IR node names. Checks: total params and fvcore total; per node and per block/stage
    that exists as a module, fvcore's figure and the parameter count; with
    ``flop_counter``, FlopCounterMode's total against 2×(conv+fc MACs).
    """
    counts = count(graph, input, batch, "fvcore")
    if model is None:
        from archdsl.lowering import create_model
        model = create_model(graph)
    x = torch.randn(batch, *counts.input_shape)
    total, by_module = fvcore_flops(model, x)
    modules = dict(model.named_modules())
    torch_params = sum(p.numel() for p in model.parameters())

    found: list[Mismatch] = []
    compared = 0

    def check(name: str, what: str, expected: int, measured: int) -> None:
        nonlocal compared
        compared += 1
        if expected != measured:
            found.append(Mismatch(name, what, expected, measured))

    check("total", "params", counts.total.params, torch_params)
    check("total", "fvcore flops", counts.total.cost, total)
    seen = set()
    for row in (*counts.stages, *counts.blocks, *counts.layers):
        if row.name in modules and row.name not in seen:
            seen.add(row.name)  # a stage holding one block-less group is both stage and block
            check(row.name, "fvcore flops", row.cost, by_module.get(row.name, 0))
            check(row.name, "params", row.params, _numel(modules[row.name]))
    fc_total = None
    if flop_counter:
        fc_total = flop_counter_flops(model, x)
        check("total", "FlopCounterMode flops", counts.total.flops, fc_total)
    return Verification(counts, total, torch_params, fc_total, compared, tuple(found))


def _numel(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())
