"""Training configuration: a dataclass loaded from YAML recipes, overridable from the CLI.

A recipe is a flat YAML mapping whose keys are :class:`TrainConfig` fields. ``extends:``
names another recipe to start from (so AlexNet's recipe is ImageNet's plus three changes).
Overrides are ``key=value`` strings parsed with YAML's scalar rules and checked against
the field's type. Unknown keys are errors that list the valid ones.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archdsl.train.errors import TrainError

#: Where named recipes (``--recipe cifar-paper``) are looked up besides the given path.
RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"


@dataclass
class TrainConfig:
    """Every knob of a training run; iterations ("steps") are optimiser steps."""

    # optimisation (He et al. 2016 CIFAR recipe as the default)
    optimizer: str = "sgd"              # sgd | adamw
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    batch_size: int = 128               # global batch, split across ranks
    steps: int = 64000
    schedule: str = "step"              # step | cosine | constant
    milestones: list[int] = field(default_factory=lambda: [32000, 48000])
    gamma: float = 0.1
    warmup_steps: int = 0               # ResNet-110: 400 iterations at warmup_lr
    warmup_lr: float = 0.01
    label_smoothing: float = 0.0
    # data and augmentation
    augment: str = "auto"               # auto | none | padcrop | cifar | imagenet
    pad: int = 4                        # pad-and-crop padding (scaled with the model's input)
    flip: bool = True
    scale_min: int = 256                # ImageNet scale jitter: shorter side in [min, max]
    scale_max: int = 480
    crop_size: int = 224
    store_size: int = 256               # imagefolder images are stored at this shorter side
    pca_noise: float = 0.0              # AlexNet colour noise std (0.1 in the paper); 0 = off
    normalize: str = "meanstd"          # meanstd | mean (per-channel statistics of the train set)
    val_split: float = 0.0              # hold out this fraction of train as the test set (45k/5k)
    input_size: list[int] | None = None  # model input C,H,W; None = the model's own / the data's
    num_classes: int | None = None
    # evaluation, logging, checkpoints
    eval_every: int = 1000
    log_every: int = 100
    ckpt_every: int = 1000
    ten_crop: bool = False
    eval_batch_size: int = 256
    # speed
    device: str = "auto"                # auto | cpu | cuda | cuda:N
    amp: str = "auto"                   # auto (bf16 on CUDA) | none | bf16
    channels_last: str = "auto"         # auto (on CUDA) | true | false
    compile: bool = False
    resident: bool = True               # keep the dataset on the training device
    deterministic: bool = False         # torch.use_deterministic_algorithms(True)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-data copy (stored in checkpoints and ``config.yaml``)."""
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
# String settings with a closed set of values (checked so a typo fails before training).
_CHOICES = {
    "optimizer": ("sgd", "adamw"), "schedule": ("step", "cosine", "constant"),
    "augment": ("auto", "none", "padcrop", "cifar", "imagenet"), "normalize": ("meanstd", "mean"),
    "amp": ("auto", "none", "bf16"), "channels_last": ("auto", "true", "false"),
}


def _unknown(key: str, where: str) -> TrainError:
    close = difflib.get_close_matches(key, _FIELDS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "valid keys: " + ", ".join(sorted(_FIELDS))
    return TrainError(f"unknown training setting {key!r} in {where}", hint=hint)


def _coerce(key: str, value: Any, where: str) -> Any:
    """Check ``value`` against the field's declared type, converting ints to floats."""
    kind = _FIELDS[key].type
    if value is None and "None" in kind:
        return None
    ok = {
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
    }
    base = kind.split(" |")[0]
    if base.startswith("list[int]"):
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if isinstance(value, list) and all(ok["int"](v) for v in value):
            return list(value)
    elif base == "str" and isinstance(value, (bool, int, float)):
        return _coerce(key, str(value).lower() if isinstance(value, bool) else str(value), where)
    elif ok[base](value):
        if key in _CHOICES and value not in _CHOICES[key]:
            raise TrainError(f"{where}: {key} must be one of {', '.join(_CHOICES[key])}, got {value!r}")
        return float(value) if base == "float" else value
    raise TrainError(f"{where}: {key} must be {kind}, got {value!r}")


def resolve_recipe(name: str) -> Path:
    """Find a recipe by path, or by name in the project's ``recipes/`` directory."""
    for cand in (Path(name), RECIPES_DIR / name, RECIPES_DIR / f"{name}.yaml"):
        if cand.is_file():
            return cand
    known = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
    raise TrainError(f"recipe {name!r} not found", hint="known recipes: " + ", ".join(known))


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise TrainError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise TrainError(f"{path}: a recipe must be a mapping of setting: value")
    base = data.pop("extends", None)
    if base is None:
        return data
    parent = resolve_recipe(str(base)) if not (path.parent / str(base)).is_file() else path.parent / str(base)
    if parent.resolve() in seen:
        raise TrainError(f"{path}: recipes extend each other in a cycle")
    return {**_read(parent, seen + (path.resolve(),)), **data}


def load_config(recipe: str | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Build a config from a recipe (path or name; None = defaults) and override values."""
    values: dict[str, Any] = {}
    if recipe:
        path = resolve_recipe(recipe)
        for key, value in _read(path).items():
            if key not in _FIELDS:
                raise _unknown(key, str(path))
            values[key] = _coerce(key, value, str(path))
    for key, value in (overrides or {}).items():
        if key not in _FIELDS:
            raise _unknown(key, "overrides")
        values[key] = _coerce(key, value, "override")
    cfg = TrainConfig(**values)
    for key in ("steps", "batch_size", "eval_every", "log_every", "ckpt_every", "eval_batch_size"):
        if getattr(cfg, key) < 1:
            raise TrainError(f"{key} must be at least 1, got {getattr(cfg, key)}")
    if cfg.scale_min > cfg.scale_max:
        raise TrainError(f"scale_min {cfg.scale_min} exceeds scale_max {cfg.scale_max}")
    return cfg


def parse_assignments(items: list[str], what: str = "--set") -> dict[str, Any]:
    """Parse ``["lr=0.05", "milestones=[100,200]"]`` into typed values with YAML scalar rules."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise TrainError(f"{what} expects key=value, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = text
    return out
