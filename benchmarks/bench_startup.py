"""Whole-process wall time of the everyday commands, start-up included.

    python benchmarks/bench_startup.py [--reps 9]

Each command runs as a fresh ``python -m archdsl …`` process (what a user's shell runs), all
commands interleaved with the order rotated each round. Printed: min / median / max seconds,
against a bare ``python -c pass`` and ``import archdsl``, plus ``report`` with the grammar
cache disabled (``ARCHDSL_CACHE_DIR=``, what every process paid before the cache) to show
what the cache saves. Targets (issue 17, on a quiet machine): ``report resnet152`` ≤ 0.10 s,
``check specs/*.arch`` ≤ 0.12 s, ``--help`` ≤ 0.08 s, and ResNet at n = 2000 (42,009 nodes)
``report -f json`` ≤ 0.5 s; each row with one says ``ok`` or ``over`` by its median.

archdsl's bytecode is compiled first (``compileall``), as a wheel install does: where
``PYTHONDONTWRITEBYTECODE`` is set (this development box sets it) every process would
otherwise compile archdsl's sources again, ~0.1 s that no installed copy pays.
"""
from __future__ import annotations

import argparse
import compileall
import glob
import os
import statistics
import subprocess
import sys

from _harness import ROOT, interleave, load_average, spread


def command(argv: list[str], env: dict[str, str] | None = None):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}

    def run() -> None:
        subprocess.run([sys.executable, *argv], cwd=ROOT, env=full_env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()
    if args.reps < 7:
        ap.error("--reps must be at least 7")
    specs = sorted(glob.glob(str(ROOT / "specs" / "*.arch")))
    compileall.compile_dir(str(ROOT / "archdsl"), quiet=1)
    deep = ["report", "resnet-cifar", "-D", "n=2000", "--max-depth", "20000", "-f", "json"]
    contenders = {
        "python -c pass": command(["-c", "pass"]),
        "python -c 'import archdsl'": command(["-c", "import archdsl"]),
        "archdsl --help": command(["-m", "archdsl", "--help"]),
        "archdsl check resnet50": command(["-m", "archdsl", "check", "resnet50"]),
        f"archdsl check specs/*.arch ({len(specs)})": command(["-m", "archdsl", "check", *specs]),
        "archdsl report resnet152": command(["-m", "archdsl", "report", "resnet152"]),
        "  … without grammar cache": command(["-m", "archdsl", "report", "resnet152"],
                                             {"ARCHDSL_CACHE_DIR": ""}),
        "archdsl report -f json, ResNet n=2000": command(["-m", "archdsl", *deep]),
    }
    targets = {"archdsl --help": 0.08, f"archdsl check specs/*.arch ({len(specs)})": 0.12,
               "archdsl report resnet152": 0.10, "archdsl report -f json, ResNet n=2000": 0.5}
    for run in contenders.values():   # fail loudly before timing anything
        run()
    print(f"bench_startup: {sys.executable}, {args.reps} interleaved rounds; {load_average()}")
    t = interleave(contenders, reps=args.reps)
    print(f"{'command':<42}{'seconds min / median / max':>30}  target")
    for name in t.names:
        target = targets.get(name)
        verdict = "" if target is None else \
            f"  ≤ {target:.2f} {'ok' if statistics.median(t.times[name]) <= target else 'over'}"
        print(f"{name:<42}{spread(t.times[name], 1, '{:.3f}'):>30}{verdict}")
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
