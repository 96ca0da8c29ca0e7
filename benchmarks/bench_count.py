"""archdsl.analysis.count vs fvcore's FlopCountAnalysis on the same networks, side by side.

    .venv/bin/python benchmarks/bench_count.py [SPEC ...] [--repeat N]

For each spec: the time of ``archdsl.analysis.count`` on the built graph (and of load + count, the
whole cost of ``archdsl report``), and of fvcore tracing and counting the lowered module on
a 1×C×H×W CPU tensor (model construction excluded); the ratio fvcore / count; and whether
the two totals agree (the ``fvcore`` convention is meant to match to the unit).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

from archdsl import load  # noqa: E402
from archdsl.analysis.count import count  # noqa: E402
from archdsl.lowering import create_model  # noqa: E402
from archdsl.lowering.verify import fvcore_flops  # noqa: E402

DEFAULT = ("resnet-cifar", "alexnet", "resnet18", "resnet50", "resnet152", "vgg16")


def best(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls, in seconds (the least disturbed by the shared box)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    print(f"{'network':<14}{'count ms':>10}{'load+count ms':>15}{'fvcore ms':>11}"
          f"{'fvcore/count':>14}{'load+count speed-up':>21}  fvcore total      agree")
    for spec in args.specs:
        graph = load(spec)
        t_count = best(lambda: count(graph), max(args.repeat, 5))
        t_load = best(lambda: count(load(spec)), args.repeat)
        model = create_model(graph).eval()
        x = torch.randn(1, *graph.input_shape)
        result = {}
        t_fv = best(lambda: result.update(total=fvcore_flops(model, x)[0]), args.repeat)
        agree = result["total"] == count(graph).total.cost
        print(f"{spec:<14}{t_count * 1e3:>10.2f}{t_load * 1e3:>15.1f}{t_fv * 1e3:>11.0f}"
              f"{t_fv / t_count:>13.0f}×{t_fv / t_load:>20.0f}×  {result['total']:>15,}  {agree}")


if __name__ == "__main__":
    main()
