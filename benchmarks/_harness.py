"""What every benchmark here shares: pinned threads, interleaved rotating rounds, honest stats.

A shared 2-core box drifts by more than 10× within a minute, so no benchmark here times one
contender after another. :func:`interleave` runs one repetition of every contender per round,
rotating the order each round, so that drift hits all alike; ratios are taken within a round
(``peer / archdsl`` of the same round) and reported as min / median / max over rounds.
"""
from __future__ import annotations

import gc
import importlib
import importlib.machinery
import os
import statistics
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pin_threads(n: int = 1) -> None:
    """One intra-op thread everywhere (torch, OpenMP, MKL): single-core figures, less noise.
    Must run before torch is imported to reach OpenMP; torch is also set if already loaded."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def load_average() -> str:
    """The 1/5/15-minute load averages and the core count, to print with every run."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def torchvision_models(names: tuple[str, ...]) -> dict[str, types.ModuleType]:
    """torchvision's model modules; on CPU-only torch (whose torchvision fails to import), its
    pure-Python model files without the package ``__init__``, as tests/conftest.py does."""
    if "torchvision.models" not in sys.modules:
        try:
            import torchvision.models  # noqa: F401 - the real package (CUDA builds)
        except Exception:  # noqa: BLE001 - CPU torch: stub packages over the model files
            for mod in [m for m in sys.modules if m.startswith("torchvision")]:
                del sys.modules[mod]
            spec = importlib.machinery.PathFinder.find_spec("torchvision")
            root = spec.submodule_search_locations[0]
            for name, path in (("torchvision", root), ("torchvision.models", root + "/models")):
                pkg = types.ModuleType(name)
                pkg.__path__ = [path]
                sys.modules[name] = pkg
    return {n: importlib.import_module("torchvision.models." + n) for n in names}


@dataclass
class Timings:
    """Seconds per repetition of each contender, in round order."""
    names: list[str]
    times: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratios(self, peer: str, base: str) -> list[float]:
        """``peer / base`` within each round."""
        return [p / b for p, b in zip(self.times[peer], self.times[base])]


def interleave(contenders: dict[str, Callable[[], object]], reps: int = 7,
               warmup: int = 1, inner: dict[str, int] | None = None) -> Timings:
    """Time each contender ``reps`` times, one repetition of each per round, the order rotated
    each round. ``inner[name]`` calls make one repetition of a sub-millisecond contender (the
    figure is per call). ``warmup`` untimed rounds first (imports, caches, allocator). The
    garbage collector runs between repetitions, never inside one (as timeit does)."""
    names = list(contenders)
    inner = inner or {}
    out = Timings(names, {n: [] for n in names})
    for r in range(warmup + reps):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn, calls = contenders[name], inner.get(name, 1)
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                dt = (time.perf_counter() - t0) / calls
            finally:
                gc.enable()
            if r >= warmup:
                out.times[name].append(dt)
    return out


def spread(values: list[float], unit: float = 1e3, fmt: str = "{:.2f}") -> str:
    """``min / median / max`` of ``values`` scaled by ``unit`` (ms by default)."""
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return " / ".join(fmt.format(v * unit) for v in (lo, mid, hi))
