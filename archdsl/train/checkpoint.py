"""Atomic, weights-only checkpoints that resume a run exactly.

A checkpoint holds model, optimiser and scheduler state, the step, every RNG state (torch,
CUDA, Python, NumPy and the pipeline's data-order and augmentation generators), the config,
and the spec's text with its sha256. Only tensors and plain containers are stored, so it
loads with ``torch.load(weights_only=True)`` — no pickled code is ever executed.
"""
from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archdsl.atomic import atomic_path
from archdsl.train.errors import TrainError

FORMAT = 1


def spec_digest(text: str) -> str:
    """sha256 of a spec's text: the identity a checkpoint is bound to."""
    return hashlib.sha256(text.encode()).hexdigest()


def rng_state() -> dict[str, Any]:
    """Global RNG states as tensors and primitives (NumPy's key array becomes a tensor)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, pstate, pgauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": version, "state": list(pstate), "gauss": pgauss}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically: a temp file in the same directory, fsync, os.replace —
    a crash mid-write leaves the previous checkpoint intact."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)


# What a checkpoint must hold, and of which type, before any field is used: a tampered file
# (a missing or int spec_sha256, an empty model) is refused as one line, not a KeyError.
# The run fields are required when the checkpoint is used for a spec (eval, resume), and
# type-checked whenever present.
_FIELDS = {"step": int, "model": dict}
_RUN_FIELDS = {"spec_sha256": str, "config": dict, "params": dict}


def _shape_error(ckpt: dict, for_spec: bool) -> str | None:
    for key, kind in {**_FIELDS, **_RUN_FIELDS}.items():
        if key not in ckpt and key in _RUN_FIELDS and not for_spec:
            continue
        if not isinstance(ckpt.get(key), kind) or isinstance(ckpt.get(key), bool):
            return f"{key!r} is {type(ckpt.get(key)).__name__ if key in ckpt else 'missing'}, not {kind.__name__}"
    if not ckpt["model"] or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                    for k, v in ckpt["model"].items()):
        return "'model' holds no weights (or not only tensors)"
    if ckpt["step"] < 0:
        return f"'step' is negative ({ckpt['step']})"
    return None


def unusable(path: str | Path, e: Exception) -> TrainError:
    """A checkpoint whose states do not fit the model or run (the error torch raised, first line)."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return TrainError(f"{path}: the checkpoint does not fit this model: {first[:300]}",
                      hint="it was edited, or made from another spec or parameters")


def weights_warning(ckpt: dict) -> str | None:
    """A warning when a checkpoint's weights hold NaN or infinite values (a diverged run):
    evaluating it gives chance-level numbers that look like a result."""
    bad = [k for k, v in ckpt["model"].items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if not bad:
        return None
    return (f"warning: {len(bad)} weight tensor{'s' if len(bad) > 1 else ''} of the checkpoint hold "
            f"NaN or infinite values ({', '.join(bad[:3])}{', …' if len(bad) > 3 else ''}): "
            "the run diverged, and its evaluation is meaningless")


def load(path: str | Path, spec_text: str | None = None, params: dict | None = None) -> dict[str, Any]:
    """Load a checkpoint (weights only) and refuse one made from another spec or parameters."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file or one holding arbitrary objects
        raise TrainError(f"{path}: not a loadable archdsl checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise TrainError(f"{path}: not an archdsl training checkpoint (format {FORMAT})")
    why = _shape_error(ckpt, spec_text is not None)
    if why:
        raise TrainError(f"{path}: not a whole archdsl checkpoint: {why}",
                         hint="the file was edited or truncated; train again or use another checkpoint")
    if spec_text is not None and ckpt["spec_sha256"] != spec_digest(spec_text):
        raise TrainError(
            f"{path} was trained from a different spec (sha256 {ckpt['spec_sha256'][:12]}…, "
            f"this spec is {spec_digest(spec_text)[:12]}…)",
            hint="use the spec the checkpoint was made from; its text is stored in the checkpoint")
    if params is not None and ckpt.get("params", {}) != params:
        raise TrainError(f"{path} was trained with parameters {ckpt.get('params')}, not {params}",
                         hint="pass the same -D values as the original run")
    return ckpt
