"""Lowered archdsl models vs torchvision's hand-written ones: forward+backward time.

    python benchmarks/bench_lowering.py [--device cpu|cuda] [--batch N] [--reps N]

For each network (ResNet-50 v1.5, VGG-16) both models get the same weights (torchvision's
state dict loaded into the archdsl model) and the same input; repetitions are interleaved
(archdsl, torchvision, archdsl, …) so that drift in machine load hits both alike, and the
median is reported. ``speed`` = torchvision time / archdsl time (1.00 = as fast; > 1 faster).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import statistics
import sys
import time
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archdsl.lowering import create_model, load_torchvision_weights  # noqa: E402

# (archdsl spec names to try, torchvision module, constructor)
NETS = {"resnet50": (("resnet50-v1.5",), "resnet", "resnet50"),
        "vgg16": (("vgg16", "vgg-d"), "vgg", "vgg16")}


def torchvision_model(module: str, ctor: str) -> torch.nn.Module:
    """torchvision's model; on CPU-only torch, its pure-Python model files without the
    package ``__init__`` (whose compiled ops need CUDA), as in /work/shared/REFERENCE.md."""
    if "torchvision" not in sys.modules:
        try:
            import torchvision.models  # noqa: F401 - the real package (CUDA builds)
        except Exception:  # noqa: BLE001 - CPU torch: stub packages over the model files
            root = importlib.machinery.PathFinder.find_spec("torchvision").submodule_search_locations[0]
            for name, path in (("torchvision", root), ("torchvision.models", root + "/models")):
                pkg = types.ModuleType(name)
                pkg.__path__ = [path]
                sys.modules[name] = pkg
    return getattr(importlib.import_module("torchvision.models." + module), ctor)()


def _archdsl(names: tuple[str, ...]) -> torch.nn.Module:
    errors = []
    for name in names:
        try:
            return create_model(name)
        except Exception as e:  # noqa: BLE001 - try the next spelling of the spec name
            errors.append(f"{name}: {e}")
    raise SystemExit("no archdsl spec found: " + "; ".join(errors))


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def step(model: torch.nn.Module, x: torch.Tensor, device: str) -> float:
    """Seconds for one forward + backward (gradients dropped first)."""
    model.zero_grad(set_to_none=True)
    _sync(device)
    t = time.perf_counter()
    model(x).sum().backward()
    _sync(device)
    return time.perf_counter() - t


def bench(net: str, device: str, batch: int, reps: int, warmup: int) -> tuple[float, float]:
    names, module, ctor = NETS[net]
    tv = torchvision_model(module, ctor)
    ours = _archdsl(names)
    load_torchvision_weights(ours, tv.state_dict())
    models = {"archdsl": ours.to(device).train(), "torchvision": tv.to(device).train()}
    x = torch.randn(batch, 3, 224, 224, device=device)
    times: dict[str, list[float]] = {k: [] for k in models}
    for i in range(warmup + reps):
        for k, m in models.items():  # interleaved: a, t, a, t, …
            dt = step(m, x, device)
            if i >= warmup:
                times[k].append(dt)
    return statistics.median(times["archdsl"]), statistics.median(times["torchvision"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--batch", type=int, default=None, help="default 2 on CPU, 64 on CUDA")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--nets", default=",".join(NETS), help="comma list of " + ", ".join(NETS))
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device")
    batch = args.batch or (64 if args.device == "cuda" else 2)
    torch.backends.cudnn.benchmark = True
    print(f"forward+backward, batch {batch}×3×224×224, {args.device}, median of {args.reps} "
          f"interleaved reps (torch {torch.__version__}, {torch.get_num_threads()} threads)")
    print(f"{'network':<10} {'archdsl ms':>11} {'torchvision ms':>15} {'speed':>7}")
    for net in args.nets.split(","):
        a, t = bench(net, args.device, batch, args.reps, args.warmup)
        print(f"{net:<10} {a * 1e3:>11.1f} {t * 1e3:>15.1f} {t / a:>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
