"""The degradation problem (He et al. Fig. 6) on digits: plain vs residual nets of two depths.

Trains four networks with the same budget and plots training error (dashed) and test error
(bold), plain nets on the left, ResNets on the right. With the paper's effect, the deeper
plain net trains *worse* than the shallower one, while the deeper ResNet does not.

    python examples/degradation.py --depths 3 9 --steps 300 --out runs/degradation
    python examples/degradation.py --testnets   # hand-written nets instead of the specs

The model factory maps (kind, n) to a spec and its -D parameters; by default the project's
specs/{plain,resnet}-cifar.arch, with --testnets the hand-written test nets (a cross-check).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

from PIL import Image

from archdsl.train.config import load_config
from archdsl.train.loop import train
from archdsl.train.plot import Series, plot_curves

Factory = Callable[[str, int], tuple[str, dict]]


def testnet_factory(kind: str, n: int) -> tuple[str, dict]:
    """Hand-written CIFAR nets (archdsl.train._testnets)."""
    return f"testnet:{kind}", {"n": n}


def spec_factory(kind: str, n: int) -> tuple[str, dict]:
    """The project's specs, lowered by archdsl.lowering.create_model."""
    return f"specs/{kind}-cifar.arch", {"n": n}


def run(factory: Factory, depths: list[int], steps: int, size: int, out: Path) -> dict:
    """Train plain and residual nets of each depth n (6n+2 layers); return their curves."""
    # lr 0.05 = the paper's 0.1 at batch 128, scaled linearly to batch 64 (0.1 diverges at n=9).
    cfg = dict(steps=steps, batch_size=64, lr=0.05, milestones=[int(steps * 0.6), int(steps * 0.85)],
               input_size=[3, size, size], augment="padcrop", log_every=max(1, steps // 30),
               warmup_steps=steps // 10, warmup_lr=0.01,  # the paper's ResNet-110 warm-up, for all
               eval_every=max(1, steps // 6), ckpt_every=steps)
    curves = {}
    for kind in ("plain", "resnet"):
        for n in depths:
            spec, params = factory(kind, n)
            name = f"{kind}-{6 * n + 2}"
            res = train(spec, "digits", load_config(None, cfg), out / name, params=params, quiet=True)
            rows = [json.loads(r) for r in (out / name / "metrics.jsonl").read_text().splitlines()]
            curves[name] = rows
            print(f"{name:>10}: final train error {res['train_err']:5.2f}%  test error {res['test_err']:5.2f}%")
    return curves


def plot(curves: dict, path: Path) -> Path:
    """Two panels like Fig. 6: plain nets (left) and ResNets (right)."""
    panels = []
    for kind in ("plain", "resnet"):
        series = []
        for i, (name, rows) in enumerate(n for n in curves.items() if n[0].startswith(kind)):
            tr = [(r["step"], r["train_err"]) for r in rows if r["kind"] == "train"]
            te = [(r["step"], r["test_err"]) for r in rows if r["kind"] == "test"]
            series.append(Series(f"{name} train", [x for x, _ in tr], [y for _, y in tr], i, True, 1))
            series.append(Series(f"{name} test", [x for x, _ in te], [y for _, y in te], i, False, 3))
        panels.append(path.with_name(f"{path.stem}-{kind}.png"))
        plot_curves(series, panels[-1], f"{kind} nets on digits")
    left, right = (Image.open(p) for p in panels)
    both = Image.new("RGB", (left.width + right.width, left.height), "white")
    both.paste(left, (0, 0))
    both.paste(right, (left.width, 0))
    both.save(path)
    return path


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depths", type=int, nargs=2, default=[3, 9], help="n values (6n+2 layers)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--size", type=int, default=16, help="input side digits are upsampled to")
    ap.add_argument("--testnets", action="store_true",
                    help="use the hand-written test nets instead of specs/{plain,resnet}-cifar.arch")
    ap.add_argument("--out", type=Path, default=Path("runs/degradation"))
    args = ap.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; choose another --out")
    curves = run(testnet_factory if args.testnets else spec_factory, args.depths, args.steps, args.size, args.out)
    print("wrote", plot(curves, args.out / "degradation.png"))


if __name__ == "__main__":
    main()
