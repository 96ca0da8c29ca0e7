"""Lowered archdsl models vs hand-written PyTorch: training and inference throughput.

    python benchmarks/bench_lowering.py [--nets resnet18,resnet50,vgg16,resnet20]
                                        [--variants eager,channels_last,compile]
                                        [--reps 7] [--threads 2] [--device cpu|cuda]

Three contenders per network: ``create_model``'s module (torch.fx GraphModule), the
standalone ``model.py`` that ``archdsl build`` writes (imported from a temporary file), and
the reference. ``--variants``: ``eager`` (fp32, NCHW), ``channels_last`` (all three converted
to NHWC, input too) and ``compile`` (all three through ``torch.compile``, compile time
excluded: it runs in the warm-up rounds).

Pairs: archdsl's ``create_model`` against torchvision's ResNet-18, ResNet-50 (v1.5),
VGG-16, and against a hand-written standard CIFAR ResNet-20 (He et al. 2016, option-A
shortcuts; torchvision has none), below. Each pair gets the same weights (checked: equal
outputs) and the same input. ``train`` times forward + backward, ``infer`` a forward under
``torch.inference_mode`` in eval mode. Repetitions interleave the two models, the order
rotating each round, so that drift in machine load hits both alike; the ratio of each
round's pair is ``reference time / archdsl time`` (1.00 = as fast, > 1 = archdsl faster),
reported as min / median / max over rounds. Ends with a quick check that ``torch.compile``
and ``torch.export`` work on ``create_model``'s module.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import tempfile
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import torchvision_models  # noqa: E402  (the loader every benchmark shares)

from archdsl import api  # noqa: E402
from archdsl.lowering import create_model, load_torchvision_weights  # noqa: E402
from archdsl.lowering.codegen import generate_source  # noqa: E402


# ---- the references ---------------------------------------------------------------------

class BasicBlock(nn.Module):
    """The CIFAR ResNet block as usually written (cf. torchvision's BasicBlock), option A."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin  # zero channels appended, as the spec's option A

    def forward(self, x):
        identity = x
        if self.stride != 1 or self.pad:
            identity = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, 0, self.pad))
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for CIFAR-10: 16-32-64 channels, global pool, 10-way fc."""

    def __init__(self, n: int = 3, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _copy_in_order(dst: nn.Module, src: nn.Module) -> None:
    """Load ``src``'s state into ``dst`` key by key in order (same layers, other names)."""
    theirs, ours = dst.state_dict(), list(src.state_dict().values())
    if [tuple(v.shape) for v in theirs.values()] != [tuple(v.shape) for v in ours]:
        raise SystemExit("the CIFAR reference does not match resnet-cifar layer for layer")
    dst.load_state_dict(dict(zip(theirs, ours)))


def _generated(ours: nn.Module, spec: str, params: dict, tmp: Path) -> nn.Module:
    """The standalone model.py archdsl writes for ``spec``, imported, with ``ours``'s weights."""
    source = generate_source(api.load(spec, **params))
    path = tmp / f"gen_{spec.replace('-', '_').replace('.', '_')}.py"
    path.write_text(source)
    mod_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    gen = module.build()
    gen.load_state_dict(ours.state_dict())
    return gen


def _trio(net: str, tmp: Path) -> tuple[dict[str, nn.Module], tuple[int, ...]]:
    """{archdsl, model.py, reference} with the same weights, and the input shape."""
    if net == "resnet20":
        spec, params = "resnet-cifar", {"n": 3}
        ours, ref = create_model(spec, **params), CifarResNet(3)
        _copy_in_order(ref, ours)
        shape = (3, 32, 32)
    else:
        spec, module, ctor = {"resnet18": ("resnet18", "resnet", "resnet18"),
                              "resnet50": ("resnet50-v1.5", "resnet", "resnet50"),
                              "vgg16": ("vgg16", "vgg", "vgg16"),
                              "densenet121": ("densenet121", "densenet", "densenet121"),
                              "mobilenet_v2": ("mobilenet-v2", "mobilenetv2", "mobilenet_v2"),
                              }[net]
        params = {}
        ours, ref = create_model(spec), getattr(torchvision_models((module,))[module], ctor)()
        load_torchvision_weights(ours, ref.state_dict())
        shape = (3, 224, 224)
    return {"archdsl": ours, "model.py": _generated(ours, spec, params, tmp), "reference": ref}, shape


# ---- timing ------------------------------------------------------------------------------

def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _step(mode: str, model: nn.Module, x: torch.Tensor, device: str) -> float:
    """Seconds for one training step's forward + backward, or one inference forward."""
    _sync(device)
    if mode == "train":
        model.zero_grad(set_to_none=True)
        t = time.perf_counter()
        model(x).sum().backward()
    else:
        t = time.perf_counter()
        with torch.inference_mode():
            model(x)
    _sync(device)
    return time.perf_counter() - t


def bench(mode: str, models: dict[str, nn.Module], x: torch.Tensor, reps: int, warmup: int,
          device: str) -> dict[str, list[float]]:
    """Interleaved timings, the order of the models rotating each round."""
    for m in models.values():
        m.train(mode == "train")
    names = list(models)
    times: dict[str, list[float]] = {k: [] for k in names}
    for i in range(warmup + reps):
        order = names[i % len(names):] + names[:i % len(names)]
        for k in order:
            dt = _step(mode, models[k], x, device)
            if i >= warmup:
                times[k].append(dt)
    return times


def _variant(variant: str, trio: dict[str, nn.Module], x: torch.Tensor,
             backend: str) -> tuple[dict[str, nn.Module], torch.Tensor]:
    """The three models (and input) as ``variant`` runs them."""
    if variant == "eager":
        return dict(trio), x
    if variant == "channels_last":
        return ({k: m.to(memory_format=torch.channels_last) for k, m in trio.items()},
                x.contiguous(memory_format=torch.channels_last))
    if variant == "compile":
        return {k: torch.compile(m, backend=backend) for k, m in trio.items()}, x
    raise SystemExit(f"unknown variant {variant!r} (eager, channels_last, compile)")


def _stats(ts: list[float]) -> str:
    return f"{min(ts) * 1e3:8.1f} {statistics.median(ts) * 1e3:8.1f} {max(ts) * 1e3:8.1f}"


def _same_outputs(ours: nn.Module, ref: nn.Module, x: torch.Tensor) -> float:
    ours.eval(), ref.eval()
    with torch.inference_mode():
        return float((ours(x) - ref(x)).abs().max())


def _check_compile_and_export(device: str, backend: str) -> list[str]:
    """torch.export and torch.compile on create_model's module (ResNet-20), vs eager."""
    model = create_model("resnet-cifar", n=3).to(device).eval()
    x = torch.randn(4, 3, 32, 32, device=device)
    with torch.no_grad():
        want = model(x)
        t = time.perf_counter()
        ep = torch.export.export(model, (x,))
        d_export = float((ep.module()(x) - want).abs().max())
        t_export = time.perf_counter() - t
        t = time.perf_counter()
        compiled = torch.compile(model, backend=backend, fullgraph=True)
        d_compile = float((compiled(x) - want).abs().max())
        t_compile = time.perf_counter() - t
    def verdict(d: float) -> str:
        return "ok" if d < 1e-4 else "MISMATCH"
    return [f"torch.export  on create_model('resnet-cifar', n=3): {verdict(d_export)}, "
            f"max |diff| vs eager {d_export:.1e} ({t_export:.1f} s)",
            f"torch.compile on create_model('resnet-cifar', n=3) ({backend}, fullgraph): "
            f"{verdict(d_compile)}, max |diff| vs eager {d_compile:.1e} ({t_compile:.1f} s)"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", default="resnet18,resnet50,vgg16,resnet20")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--variants", default="eager,channels_last",
                    help="comma list of eager, channels_last, compile (compile: minutes on CPU)")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (pinned)")
    ap.add_argument("--batch", type=int, default=None,
                    help="images per step (default CPU: 2 at 224×224, 32 at 32×32; CUDA: 64 / 256)")
    ap.add_argument("--compile-backend", default="inductor",
                    help="torch.compile backend of the final check (aot_eager skips C++ builds)")
    ap.add_argument("--no-compile-check", action="store_true")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads, "
          f"{args.reps} reps + {args.warmup} warm-up, interleaved, order rotated each round; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("ms per step: min / median / max; speed = reference / contender per round "
          "(min / median / max; > 1 = faster than the reference)")
    print(f"{'network':<12} {'variant':<13} {'mode':<5} {'batch':>5}  {'contender':<9} "
          f"{'ms':>26}  {'speed':>20}")
    worst = float("inf")
    tmp = Path(tempfile.mkdtemp(prefix="bench_lowering_"))
    for net in args.nets.split(","):
        trio, shape = _trio(net, tmp)
        small = shape[1] <= 64
        batch = args.batch or ((256 if small else 64) if args.device == "cuda" else (32 if small else 2))
        x = torch.randn(batch, *shape, device=args.device)
        trio = {k: m.to(args.device) for k, m in trio.items()}
        for k in ("archdsl", "model.py"):
            diff = _same_outputs(trio[k], trio["reference"], x)
            if diff > 1e-3:
                raise SystemExit(f"{net}: {k} and the reference disagree (max |diff| {diff:.2e})")
        for variant in args.variants.split(","):
            models, xv = _variant(variant, trio, x, args.compile_backend)
            for mode in ("train", "infer"):
                gc.collect()
                gc.disable()  # no collector pauses inside a timed step
                try:
                    t = bench(mode, models, xv, args.reps, args.warmup, args.device)
                finally:
                    gc.enable()
                print(f"{net:<12} {variant:<13} {mode:<5} {batch:>5}  {'reference':<9} "
                      f"{_stats(t['reference'])}", flush=True)
                for k in ("archdsl", "model.py"):
                    ratios = [r / a for a, r in zip(t[k], t["reference"])]
                    med = statistics.median(ratios)
                    worst = min(worst, med)
                    print(f"{'':<12} {'':<13} {'':<5} {'':>5}  {k:<9} {_stats(t[k])}  "
                          f"{min(ratios):6.3f} {med:6.3f} {max(ratios):6.3f}", flush=True)
            del models
        del trio
    print(f"lowest median speed: {worst:.3f}; load average now {os.getloadavg()[0]:.1f}")
    if not args.no_compile_check:
        print("\n".join(_check_compile_and_export(args.device, args.compile_backend)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
