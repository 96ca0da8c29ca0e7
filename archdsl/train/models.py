"""The one place the training harness obtains models and spec texts.

``testnet:resnet`` / ``testnet:plain`` name the hand-written CIFAR nets in
:mod:`archdsl.train._testnets` (depth via ``-D n=3``); anything else goes to
``archdsl.lowering.create_model``, imported lazily so the harness works before/without it.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from archdsl.ir.limits import Limits
from archdsl.resources import bundled
from archdsl.train.errors import TrainError

_SPECS_DIR = bundled("specs")


def spec_text(spec: str) -> str:
    """The text a checkpoint is bound to: the spec file's contents, or the name itself for
    built-in test nets and names only the lowering can resolve."""
    if spec.startswith("testnet:") or "\n" in spec:   # a test net, or spec text itself
        return spec
    for cand in (Path(spec), _SPECS_DIR / spec, _SPECS_DIR / f"{spec}.arch"):
        if cand.is_file():
            return cand.read_text()
    return spec


def validate(spec: str, params: dict, num_classes: int | None, limits: Limits | None = None) -> None:
    """Check ``spec`` (shapes and resource ``limits``) without allocating anything; a
    testnet has nothing to check. Raises :class:`archdsl.errors.ArchError`."""
    if spec.startswith("testnet:"):
        return
    from archdsl.lowering import load_graph
    load_graph(spec, num_classes, limits, **params)


def make_model(spec: str, params: dict, num_classes: int | None,
               in_shape: tuple[int, int, int] | None, limits: Limits | None = None) -> nn.Module:
    """Build the network for ``spec`` with ``-D`` parameters, a class count and an input shape;
    ``limits`` (:class:`archdsl.ir.limits.Limits`) are the budgets the spec is checked against."""
    if spec.startswith("testnet:"):
        from archdsl.train._testnets import make_testnet
        try:
            return make_testnet(spec.split(":", 1)[1], num_classes=num_classes or 10,
                                input_size=in_shape[-1] if in_shape else None, **params)
        except (TypeError, ValueError) as e:
            raise TrainError(f"{spec}: {e}") from None
    try:
        from archdsl.lowering import create_model
    except ImportError as e:
        raise TrainError(f"cannot build {spec!r}: the lowering is unavailable ({e})",
                         hint="use testnet:resnet or testnet:plain") from None
    kwargs = dict(params)
    if in_shape is not None:
        kwargs["input_size"] = tuple(in_shape)
    return create_model(spec, num_classes=num_classes, limits=limits, **kwargs)


def input_shape(model: nn.Module, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    """The (C, H, W) the model expects, if it says so (``input_shape``/``input_size``)."""
    for attr in ("input_shape", "input_size"):
        shape = getattr(model, attr, None)
        if shape is not None and len(tuple(shape)) == 3:
            return tuple(int(v) for v in shape)  # type: ignore[return-value]
    return tuple(fallback)  # type: ignore[return-value]
