"""Record (or compare against) the golden behaviour of every bundled network.

The core redesign (issue 12) must not change what any spec means. This script captures,
for each spec in ``specs/`` and for resnet-cifar at n = 3, 9, 18, 200:

* the IR: every node's name, op, inputs, attributes, shape, stage, block, role and span;
* the counts (``archdsl.count(...).as_dict()``) under each convention;
* the lowered model: state_dict keys and shapes, and its logits in eval mode after
  ``torch.manual_seed(0)`` initialisation on a fixed input (train mode, see model_record).

``python tests/golden/record.py`` rewrites ``tests/golden/*.json.gz`` (do that only when a
change of meaning is intended, and say so in the commit); ``tests/test_golden.py`` compares.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONVENTIONS = ("paper", "fvcore", "full")
CIFAR_N = (3, 9, 18, 200)
SEEDS = frozenset(
    "alexnet-torchvision alexnet plain-cifar plain18 plain34 resnet-cifar resnet101-v1.5 resnet101 "
    "resnet152-v1.5 resnet152 resnet18 resnet34-a resnet34-c resnet34 resnet50-v1.5 resnet50 "
    "vgg-a-lrn vgg-a vgg-b vgg-c vgg-d vgg-e vgg11-bn vgg11 vgg13-bn vgg13 vgg16-bn vgg16 "
    "vgg19-bn vgg19".split())
# logits kept per sample: enough to catch any change of structure or init order
KEEP = 64


def targets() -> list[tuple[str, Path, dict]]:
    """(label, spec file, family parameters) for every recorded network."""
    # The 30 seed specs the redesign started from; specs added since (issue 13) have no record.
    out = [(p.stem, p, {}) for p in sorted((ROOT / "specs").glob("*.arch")) if p.stem in SEEDS]
    out += [(f"resnet-cifar-n{n}", ROOT / "specs" / "resnet-cifar.arch", {"n": n}) for n in CIFAR_N]
    return out


def ir_record(graph) -> dict:
    """The IR as plain data; the block-template field is left out on purpose (it is new)."""
    def plain(v):
        return list(v) if isinstance(v, tuple) else v
    nodes = [{"name": n.name, "op": n.op, "inputs": list(n.inputs),
              "attrs": {k: plain(v) for k, v in n.attrs}, "shape": list(n.shape),
              "stage": n.stage, "block": n.block, "role": n.role,
              "span": [n.span.line, n.span.col, n.span.end_line, n.span.end_col]}
             for n in graph.nodes]
    stages = [{"name": s.name, "declared": plain(s.declared), "nodes": list(s.nodes)}
              for s in graph.stages]
    return {"name": graph.name, "input_shape": list(graph.input_shape),
            "num_classes": graph.num_classes, "depth": graph.depth,
            "params": {k: plain(v) for k, v in graph.params},
            "settings": {k: plain(v) for k, v in graph.settings},
            "stages": stages, "nodes": nodes, "dump": str(graph)}


def model_record(graph) -> dict:
    """state_dict layout and train-mode logits on a fixed seed and input.

    Train mode, because BatchNorm then normalises with batch statistics: in eval mode a
    freshly initialised ResNet-152's logits reach 1e7 and ResNet-1202's overflow to NaN,
    which would compare nothing. Dropout draws from the seeded generator."""
    import torch
    from archdsl.lowering import create_model

    torch.manual_seed(0)
    model = create_model(graph).train()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, *graph.input_shape, generator=gen)
    torch.manual_seed(2)
    with torch.no_grad():
        y = model(x).double()
    return {"state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
            "param_sum": float(sum(p.detach().double().sum() for p in model.parameters())),
            "logits": y[:, :KEEP].tolist(), "logit_mean": float(y.mean()),
            "logit_std": float(y.std())}


def record(label: str, path: Path, params: dict) -> dict:
    import archdsl
    from archdsl.analysis.count import count

    graph = archdsl.load(str(path), **params)
    return {"label": label, "ir": ir_record(graph),
            "counts": {c: count(graph, convention=c).as_dict() for c in CONVENTIONS},
            "model": model_record(graph)}


def golden_path(label: str) -> Path:
    return HERE / f"{label}.json.gz"


def main(argv: list[str]) -> int:
    only = set(argv)
    for label, path, params in targets():
        if only and label not in only:
            continue
        data = json.dumps(record(label, path, params), sort_keys=True).encode()
        # mtime=0: the same record gives the same bytes, so git sees only real changes
        golden_path(label).write_bytes(gzip.compress(data, mtime=0))
        print(label, len(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
