"""The front end's speed claims, timed in fresh processes (the tests check behaviour only).

    .venv/bin/python benchmarks/bench_frontend.py [--repeat N]

Each row is the best of ``--repeat`` runs in a new Python process, archdsl's imports
included (the interpreter's own start is not), next to the figure the project promises:
``archdsl check specs/*.arch`` under a second, ``archdsl report resnet152`` (torch-free) under a
second, and a billion-fold repeat refused before expansion in under half a second.
``benchmarks/bench_count.py`` times ``count`` itself per spec.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.arch"))
HUGE_REPEAT = "input 3×32×32\nconv1: [3×3, 64] ×1000000000\n"

CASES = [  # (what, target seconds, python -c code timed inside the child, argv)
    ("check specs/*.arch", 1.0, "from archdsl.cli.main import main; main(['check', *sys.argv[1:]])",
     SPECS),
    ("report resnet152 --by layer", 1.0,
     "from archdsl.cli.main import main; main(['report', 'resnet152', '--by', 'layer'])", []),
    ("refuse a 10⁹ repeat", 0.5,
     "import archdsl\ntry:\n    archdsl.load(sys.argv[1])\nexcept archdsl.ArchError:\n    pass",
     [HUGE_REPEAT]),
]


def child_seconds(code: str, argv: list[str]) -> float:
    """Seconds from the child's first line to the end of ``code``, its output discarded."""
    wrapper = ("import sys, time, contextlib, io; t0 = time.perf_counter()\n"
               "with contextlib.redirect_stdout(io.StringIO()):\n"
               + "".join(f"    {line}\n" for line in code.splitlines())
               + "print(time.perf_counter() - t0, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", wrapper, *argv], cwd=ROOT, capture_output=True,
                       text=True, check=True)
    return float(r.stderr.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'case':<30}{'best s':>9}{'target s':>10}  within")
    for what, target, code, argv in CASES:
        best = min(child_seconds(code, argv) for _ in range(args.repeat))
        print(f"{what:<30}{best:>9.3f}{target:>10.1f}  {'yes' if best < target else 'NO'}")


if __name__ == "__main__":
    main()
