"""Training configuration: a dataclass loaded from YAML recipes, overridable from the CLI.

A recipe is a flat YAML mapping whose keys are :class:`TrainConfig` fields. ``extends:``
names another recipe to start from (so AlexNet's recipe is ImageNet's plus three changes).
Overrides are ``key=value`` strings parsed with YAML's scalar rules and checked against
the field's type. Unknown keys are errors that suggest the closest valid one. Every error
is located where the setting was written: ``file:line:col`` of the key in the recipe file,
or the command line.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archdsl.errors import COMMAND_LINE, Span
from archdsl.resources import bundled
from archdsl.train.errors import TrainError

#: Where named recipes (``--recipe cifar-paper``) are looked up besides the given path.
RECIPES_DIR = bundled("recipes")


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


# Numeric settings and the interval each must lie in: (low, high, low included, high included);
# None is unbounded. Checked on every load, so a recipe file is refused as a command line is.
_RANGES = {
    "lr": (0, None, False, True), "momentum": (0, 1, True, True), "weight_decay": (0, None, True, True),
    "gamma": (0, None, False, True), "warmup_steps": (0, None, True, True),
    "warmup_lr": (0, None, True, True), "label_smoothing": (0, 1, True, False),
    "val_split": (0, 1, True, False), "pca_noise": (0, None, True, True), "pad": (0, None, True, True),
    "scale_min": (1, None, True, True), "scale_max": (1, None, True, True),
    "crop_size": (1, None, True, True), "store_size": (1, None, True, True),
    "num_classes": (1, None, True, True), "seed": (0, 2 ** 63, True, False),
    "steps": (1, None, True, True), "batch_size": (1, None, True, True),
    "eval_every": (1, None, True, True), "log_every": (1, None, True, True),
    "ckpt_every": (1, None, True, True), "eval_batch_size": (1, None, True, True),
}
#: Largest whole number a setting may hold (steps, sizes …), as spec numbers are bounded.
_MAX_INT = 10 ** 18
_DEVICE = re.compile(r"auto|cpu|mps|cuda(?::[0-9]{1,3})?")


def _range_error(key: str, value: Any) -> str | None:
    """Why ``value`` is out of ``key``'s range (or not finite, or too big), else None."""
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            return f"{key} must be a finite number, got {v!r}"
        if isinstance(v, int) and abs(v) > _MAX_INT:
            return f"{key} is too large: {v:.3g}"
        if isinstance(v, (int, float)) and key in ("milestones", "input_size") and v < (key == "input_size"):
            return f"{key} must hold {'positive' if key == 'input_size' else 'non-negative'} numbers, got {value!r}"
    if key == "input_size" and value is not None and len(value) != 3:
        return f"input_size is C,H,W (three numbers), got {value!r}"
    if key == "device" and not _DEVICE.fullmatch(value):
        return f"device must be auto, cpu, cuda, cuda:N or mps, got {value!r}"
    if key not in _RANGES or value is None:
        return None
    lo, hi, lo_in, hi_in = _RANGES[key]
    if (lo is not None and (value < lo or (value == lo and not lo_in))) or \
            (hi is not None and (value > hi or (value == hi and not hi_in))):
        if hi is None:
            return f"{key} must be {'at least' if lo_in else 'greater than'} {lo}, got {value!r}"
        interval = f"{'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}"
        return f"{key} must be in {interval}, got {value!r}"
    return None


@dataclass(frozen=True)
class Setting:
    """Where a setting was written: a key in a recipe file (its span and the file's text,
    so an error points at it with a caret) or the command line."""
    span: Span | None = COMMAND_LINE
    source: str | None = None


def _unknown(key: str, at: Setting) -> TrainError:
    close = difflib.get_close_matches(key, _FIELDS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "valid keys: " + ", ".join(sorted(_FIELDS))
    return TrainError(f"unknown training setting {key!r}", hint, at.span, at.source)


def _coerce(key: str, value: Any, at: Setting) -> Any:
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
        return _coerce(key, str(value).lower() if isinstance(value, bool) else str(value), at)
    elif ok[base](value):
        if key in _CHOICES and value not in _CHOICES[key]:
            raise TrainError(f"{key} must be one of {', '.join(_CHOICES[key])}, got {value!r}",
                             span=at.span, source=at.source)
        return float(value) if base == "float" else value
    raise TrainError(f"{key} must be {kind}, got {value!r}", span=at.span, source=at.source)


def resolve_recipe(name: str, at: Setting = Setting()) -> Path:
    """Find a recipe by path, or by name in the project's ``recipes/`` directory; ``at`` is
    where it was named (the command line, or an ``extends:`` key)."""
    for cand in (Path(name), RECIPES_DIR / name, RECIPES_DIR / f"{name}.yaml"):
        if cand.is_file():
            return cand
    known = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
    raise TrainError(f"recipe {name!r} not found", "known recipes: " + ", ".join(known),
                     at.span, at.source)


def _mark_span(file: str, mark: Any, width: int = 1) -> Span:
    """A :class:`Span` from a PyYAML mark (0-based line and column)."""
    return Span(file, mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 1 + width)


def _settings(path: Path, text: str) -> dict[str, tuple[Any, Setting]]:
    """The top-level ``key: value`` pairs of a recipe, each with its key's position: the
    document is composed into nodes (which keep line and column), then each value built
    with the safe constructor."""
    loader = yaml.SafeLoader(text)
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):   # before anything is composed
            if isinstance(event, yaml.AliasEvent):   # recursive anchors, alias bombs
                raise TrainError("YAML aliases ('*name') are not allowed in a recipe", None,
                                 _mark_span(str(path), event.start_mark), text)
        node = loader.get_single_node()
        if node is not None and not isinstance(node, yaml.MappingNode):
            raise TrainError("a recipe must be a mapping of setting: value", None,
                             _mark_span(str(path), node.start_mark), text)
        out: dict[str, tuple[Any, Setting]] = {}
        for key_node, value_node in node.value if node is not None else ():
            key = str(loader.construct_object(key_node, deep=True))
            at = Setting(_mark_span(str(path), key_node.start_mark, len(key)), text)
            out[key] = (loader.construct_object(value_node, deep=True), at)
        return out
    except ValueError as e:   # an int of 4,300+ digits: Python refuses to convert it
        raise TrainError(f"a value in the recipe is too large: {e}"[:200], None,
                         Span(str(path), 1, 1), text) from None
    except yaml.YAMLError as e:   # a syntax error, or a tag the safe loader refuses (!!python/…)
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or getattr(e, "context", None) or str(e)
        raise TrainError(f"not valid YAML: {problem}", None,
                         _mark_span(str(path), mark) if mark else Span(str(path), 1, 1),
                         text) from None
    finally:
        loader.dispose()


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, tuple[Any, Setting]]:
    """A recipe's settings, ``extends:`` resolved, each with where it was written."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TrainError(f"cannot read recipe {path}: {e}") from None
    out = _settings(path, text)
    if "extends" not in out:
        return out
    base, at = out.pop("extends")
    local = path.parent / str(base)
    parent = local if local.is_file() else resolve_recipe(str(base), at)
    if parent.resolve() in seen + (path.resolve(),):
        raise TrainError("recipes extend each other in a cycle", None, at.span, at.source)
    return {**_read(parent, seen + (path.resolve(),)), **out}


def load_config(recipe: str | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Build a config from a recipe (path or name; None = defaults) and override values.

    Every error is a :class:`TrainError` located where the setting was written: the key in
    the recipe file (``file:line:col``), or the command line for an override."""
    values: dict[str, Any] = {}
    origin: dict[str, Setting] = {}
    settings = _read(resolve_recipe(recipe)) if recipe else {}
    settings.update((k, (v, Setting())) for k, v in (overrides or {}).items())
    for key, (value, at) in settings.items():
        if key not in _FIELDS:
            raise _unknown(key, at)
        values[key], origin[key] = _coerce(key, value, at), at
        why = _range_error(key, values[key])
        if why:
            raise TrainError(why, span=at.span, source=at.source)
    cfg = TrainConfig(**values)

    def refuse(key: str, message: str) -> TrainError:
        at = origin.get(key, Setting(None))
        return TrainError(message, span=at.span, source=at.source)

    if cfg.scale_min > cfg.scale_max:
        raise refuse("scale_max" if "scale_max" in origin else "scale_min",
                     f"scale_min {cfg.scale_min} exceeds scale_max {cfg.scale_max}")
    return cfg


def parse_assignments(items: list[str], what: str = "--set") -> dict[str, Any]:
    """Parse ``["lr=0.05", "milestones=[100,200]"]`` into typed values with YAML scalar rules."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise TrainError(f"{what} expects key=value, got {item!r}", span=COMMAND_LINE)
        if re.search(r"[0-9]{19}", text):   # the 18-digit bound of every number archdsl reads
            raise TrainError(f"{what} {key.strip()}: number too large (at most 18 digits)",
                             span=COMMAND_LINE)
        try:
            out[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = text
    return out
