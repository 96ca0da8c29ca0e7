"""archdsl's ``count`` against every FLOP counter that installs here, on torchvision's own models.

    python benchmarks/bench_count.py [--nets alexnet,vgg16,resnet50] [--reps 7]

For each network: archdsl's ``count`` on the already-built IR (``count``, the counterpart of
the peers' already-built module), archdsl's whole front end (``load+count``: parse, build,
validate and count the bundled spec), and each peer counting **torchvision's model** (not
archdsl's lowering) at 1×3×224×224 — model construction excluded for everyone:

- fvcore 0.1.5 ``FlopCountAnalysis(...).total()`` (jit trace, real CPU tensor);
- torch's ``FlopCounterMode`` on a real CPU tensor, and on the meta device (no arithmetic);
- thop ``profile``; ptflops ``get_model_complexity_info``; torchinfo ``summary``;
- calflops, when it imports (it needs transformers, which is not installed here).

Rounds interleave all contenders with the order rotated each round; ``--reps`` rounds (≥ 7)
after a warm-up round; one intra-op thread. Printed per contender: min / median / max ms, and
per peer the min / median / max of the per-round ratio ``peer / count``. The figures also
agree: archdsl's fvcore-convention total equals fvcore's on torchvision's model, and its MACs
equal FlopCounterMode's FLOPs / 2 (printed, not assumed).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import statistics
import sys
import warnings

from _harness import interleave, load_average, pin_threads, spread, torchvision_models

pin_threads(1)

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archdsl import load  # noqa: E402
from archdsl.analysis.count import count  # noqa: E402
from archdsl.ir.limits import Limits  # noqa: E402

# torchvision constructor -> the bundled spec with the same network (torchvision's variant)
PAIRS = {
    "alexnet": ("alexnet", "alexnet", "alexnet-torchvision"),
    "vgg16": ("vgg", "vgg16", "vgg16"),
    "vgg19_bn": ("vgg", "vgg19_bn", "vgg19-bn"),
    "resnet18": ("resnet", "resnet18", "resnet18"),
    "resnet50": ("resnet", "resnet50", "resnet50-v1.5"),
    "resnet152": ("resnet", "resnet152", "resnet152-v1.5"),
    "resnext50_32x4d": ("resnet", "resnext50_32x4d", "resnext50-32x4d"),
    "wide_resnet50_2": ("resnet", "wide_resnet50_2", "wide-resnet50-2"),
    "densenet121": ("densenet", "densenet121", "densenet121"),
    "googlenet": ("googlenet", "googlenet", "googlenet"),
    "squeezenet1_0": ("squeezenet", "squeezenet1_0", "squeezenet1_0"),
    "mobilenet_v2": ("mobilenetv2", "mobilenet_v2", "mobilenet-v2"),
}
DEFAULT = "alexnet,vgg16,resnet18,resnet50,resnet152,densenet121,mobilenet_v2"


@contextlib.contextmanager
def quiet():
    """Peers print tables and warnings on every call; none of it is timed output."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def peers(ctor, x: torch.Tensor) -> tuple[dict, dict[str, str]]:
    """The peer contenders for one torchvision constructor, and why any is missing."""
    model = ctor().eval()
    with torch.device("meta"):
        meta_model = ctor().eval()
    meta_x = torch.empty(x.shape, device="meta")
    out, missing = {}, {}

    def flop_counter(m, inp):
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            m(inp)
        return fc.get_total_flops()

    try:
        from fvcore.nn import FlopCountAnalysis
        out["fvcore"] = lambda: FlopCountAnalysis(model, x).unsupported_ops_warnings(False) \
            .uncalled_modules_warnings(False).total()
    except ImportError as e:
        missing["fvcore"] = str(e)
    out["FlopCounterMode"] = lambda: flop_counter(model, x)
    out["FlopCounterMode meta"] = lambda: flop_counter(meta_model, meta_x)
    try:
        import thop
        out["thop"] = lambda: thop.profile(model, inputs=(x,), verbose=False)
    except Exception as e:  # noqa: BLE001 - report any import failure, keep benchmarking
        missing["thop"] = f"{type(e).__name__}: {e}"
    try:
        from ptflops import get_model_complexity_info
        out["ptflops"] = lambda: get_model_complexity_info(
            model, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False, verbose=False)
    except Exception as e:  # noqa: BLE001
        missing["ptflops"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
    try:
        from torchinfo import summary
        out["torchinfo"] = lambda: summary(model, input_data=x, verbose=0)
    except Exception as e:  # noqa: BLE001
        missing["torchinfo"] = f"{type(e).__name__}: {e}"
    try:
        from calflops import calculate_flops
        out["calflops"] = lambda: calculate_flops(model, input_shape=tuple(x.shape),
                                                  print_results=False, print_detailed=False)
    except Exception as e:  # noqa: BLE001
        missing["calflops"] = f"{type(e).__name__}: {e}"
    return out, missing


def agreement(spec: str, ctor, x: torch.Tensor) -> str:
    """archdsl's totals against fvcore's and FlopCounterMode's on torchvision's model."""
    from fvcore.nn import FlopCountAnalysis
    model = ctor().eval()
    graph = load(spec)
    with quiet():
        fv = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).total()
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(x)
    ours_fv, ours_macs = count(graph).total.cost, count(graph, convention="paper").total.macs
    params = sum(p.numel() for p in model.parameters())
    ours_params = count(graph).total.params
    return (f"fvcore {fv:,} vs archdsl {ours_fv:,} ({'equal' if fv == ours_fv else 'DIFFER'}); "
            f"FlopCounterMode/2 {fc.get_total_flops() // 2:,} vs MACs {ours_macs:,} "
            f"({'equal' if fc.get_total_flops() == 2 * ours_macs else 'DIFFER'}); "
            f"params {params:,} vs {ours_params:,} ({'equal' if params == ours_params else 'DIFFER'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default=DEFAULT, help="torchvision names: " + ", ".join(PAIRS))
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    if args.reps < 7:
        ap.error("--reps must be at least 7 (medians of fewer rounds are noise on a shared box)")
    torch.set_grad_enabled(False)
    print(f"bench_count: torch {torch.__version__}, 1 thread, {args.reps} interleaved rounds; "
          f"{load_average()}")
    worst = None
    for net in args.nets.split(","):
        module, ctor_name, spec = PAIRS[net]
        try:
            load(spec)
        except Exception as e:  # noqa: BLE001 - a spec another branch has not landed yet
            print(f"\n{net}: skipped ({spec}: {e})")
            continue
        ctor = getattr(torchvision_models((module,))[module], ctor_name)
        x = torch.randn(1, 3, 224, 224)
        graph = load(spec)
        contenders, missing = peers(ctor, x)
        ours = {"count": lambda: count(graph), "load+count": lambda: count(load(spec))}
        with quiet():
            t = interleave({**ours, **contenders}, reps=args.reps, inner={"count": 50})
        print(f"\n{net} (torchvision.models.{ctor_name} vs specs/{spec}.arch, {len(graph.nodes)} IR "
              f"nodes): {agreement(spec, ctor, x)}")
        print(f"  {'contender':<22}{'ms min / median / max':>30}{'peer / count (min/med/max)':>34}")
        for name in t.names:
            ratio = "" if name in ours else spread(t.ratios(name, "count"), 1, "{:,.0f}×")
            print(f"  {name:<22}{spread(t.times[name]):>30}{ratio:>34}")
        for name, why in missing.items():
            print(f"  {name:<22}{'unavailable: ' + why[:90]:>30}")
        fastest = min(contenders, key=t.median)
        r = statistics.median(t.ratios(fastest, "count"))
        print(f"  fastest peer: {fastest}, median {r:,.0f}× the time of count")
        worst = r if worst is None else min(worst, r)
    if worst is not None:
        print(f"\nsmallest median speed-up over the fastest peer: {worst:,.0f}×")
    scaling(args.reps)


def scaling(reps: int) -> None:
    """count's cost per IR node over CIFAR ResNets of 20 to 12,002 layers: linear means flat."""
    print("\ncount per node, resnet-cifar (interleaved rounds; µs/node min / median / max):")
    graphs = {n: load("resnet-cifar", n=n, limits=Limits(max_depth=20_000)) for n in (3, 18, 200, 2000)}
    t = interleave({f"n={n}": (lambda g=g: count(g)) for n, g in graphs.items()}, reps=reps,
                   inner={"n=3": 50, "n=18": 10})
    for n, g in graphs.items():
        per_node = [x / len(g.nodes) for x in t.times[f"n={n}"]]
        print(f"  n={n:<5} {len(g.nodes):>7} nodes  {spread(per_node, 1e6)}")


if __name__ == "__main__":
    main()
