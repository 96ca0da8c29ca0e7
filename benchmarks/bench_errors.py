"""How long ``archdsl check`` takes on specs with many errors and on a very long spec.

Not a test (no wall-clock asserts in the suite): run it by hand, e.g.
``PYTHONPATH=. python benchmarks/bench_errors.py``. Each spec is checked in a fresh
``python -m archdsl check`` process, as a user would run it; the time includes the
interpreter's start-up (about 0.1-0.2 s). Error reporting is linear: every source line is
split once, and only the first errors are printed ("… and N more errors").
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "network bench\ninput 3×32×32\nclasses 10\n"


def errors_spec(n: int) -> str:
    """A spec with ``n`` unknown-word errors, one per row."""
    rows = "".join(f"3×3, 16, frobnicate{i}\n" for i in range(n))
    return HEADER + "conv1 32×32:\n" + rows + "head: average pool, fc-10\n"


def long_spec(lines: int) -> str:
    """A valid-looking spec of ``lines`` rows (over the depth limit, refused)."""
    return HEADER + "conv1 32×32:\n" + "3×3, 16\n" * lines + "head: average pool, fc-10\n"


def check_time(text: str, *args: str) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "bench.arch"
        spec.write_text(text, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "archdsl", "check", str(spec), *args],
                           capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    last = (r.stderr.strip().splitlines() or [""])[-1]
    return wall, cpu, r.returncode, last


def main() -> None:
    # the error specs are over the default 256 KiB cap from ~11k rows: raised, so that the
    # errors are found and reported (the cap alone would refuse them at once)
    big = ("--max-spec-bytes", "64MiB")
    cases = [(f"{n:,} errors", errors_spec(n), big) for n in (1_000, 4_000, 16_000)]
    cases.append(("100k-line spec (refused by the size cap)", long_spec(100_000), ()))
    cases.append(("100k-line spec, --max-spec-bytes 64MiB", long_spec(100_000),
                  ("--max-spec-bytes", "64MiB")))
    # CPU time (user + system) is what the work costs; wall time also counts waiting for a
    # core on a shared machine (load average on the first line)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, text, args in cases:
        wall, cpu, rc, last = check_time(text, *args)
        print(f"{label:<42} {len(text) / 2**20:5.2f} MiB  wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
              f"exit {rc}  {last[:60]}")


if __name__ == "__main__":
    main()
