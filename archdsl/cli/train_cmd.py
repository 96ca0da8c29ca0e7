"""``archdsl train | eval | bench``: argument parsing only; the work is in the API modules.

:func:`register` adds the three subcommands to the main CLI's argparse subparsers; each sets
``func(args) -> int``. User errors (:class:`~archdsl.train.errors.TrainError`, an
:class:`~archdsl.errors.ArchError`) propagate to the main CLI, which prints them and exits 2.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from archdsl.cli.options import (SPEC, add_options, defines, finite, input_shape, integer,
                                 limits_from_args)

#: ``eval`` and ``bench`` print a sentence, or one JSON object for scripts.
FORMATS = ("text", "json")


def _channels(spec: str, params: dict[str, Any]) -> int:
    """The input channels of ``spec`` (3 for the built-in test nets): what ``--input 32x32``
    keeps. Parsing and building cost milliseconds and no torch."""
    if spec.startswith("testnet:"):
        return 3
    from archdsl.api import load
    return load(spec, **params).input_shape[0]


def _input(args: argparse.Namespace) -> list[int] | None:
    """``--input`` completed to C, H, W (None: the model's own / the data's)."""
    dims = getattr(args, "input", None)
    if dims is None:
        return None
    return list(dims if len(dims) == 3 else input_shape(dims, _channels(args.spec, defines(args))))


def _overrides(args: argparse.Namespace, batch_key: str = "batch_size") -> dict[str, Any]:
    """The recipe settings the command line changes: ``--set k=v`` then the named flags
    (``--batch`` sets ``batch_key``: the training batch, or eval's ``eval_batch_size``)."""
    from archdsl.train.config import parse_assignments
    out = parse_assignments(args.set or [])
    for key in ("steps", "lr", "device", "amp", "seed"):
        if getattr(args, key, None) is not None:
            out[key] = getattr(args, key)
    if getattr(args, "batch", None) is not None:
        out[batch_key] = args.batch
    size = _input(args)
    if size is not None:
        out["input_size"] = size
    for key in ("compile", "deterministic", "ten_crop"):
        if getattr(args, key, False):
            out[key] = True
    if getattr(args, "channels_last", False):
        out["channels_last"] = "true"
    return out


def cmd_train(args: argparse.Namespace) -> int:
    """Train a spec with a recipe; writes checkpoint, metrics.jsonl and curves.png to --out."""
    from archdsl.train.config import load_config
    from archdsl.train.loop import train
    cfg = load_config(args.recipe, _overrides(args))
    res = train(args.spec, args.data, cfg, args.out, params=defines(args),
                resume=args.resume, quiet=args.quiet,
                limits=limits_from_args(args, batch=cfg.batch_size))
    if res["rank"] == 0:
        print(f"{res['step']} steps: test accuracy {100 * res['test_acc']:.2f}% "
              f"(error {res['test_err']:.2f}%, top-5 {100 * res['test_top5_acc']:.2f}%, "
              f"{res['test_count']} images); run in {res['out']} (best.pt: the best test "
              "accuracy's weights)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint of a spec on a dataset's test split (single view or 10-crop)."""
    from archdsl.train import checkpoint
    from archdsl.train.config import TrainConfig, load_config
    from archdsl.train.evaluate import evaluate
    from archdsl.train.loop import build
    from archdsl.train.models import spec_text
    from archdsl.train.runtime import autocast, setup, teardown
    params = defines(args) if args.define else None
    if args.spec is None:        # the checkpoint knows what it was trained from
        args.spec = _spec_of(checkpoint.load(args.checkpoint))
    state = checkpoint.load(args.checkpoint, spec_text(args.spec), params)
    saved = {k: v for k, v in state["config"].items() if k in TrainConfig.__dataclass_fields__}
    cfg = load_config(None, {**saved, "device": "auto", "amp": "auto", "channels_last": "auto",
                             "compile": False, **_overrides(args, "eval_batch_size")})
    rt = setup(cfg)
    try:
        model, pipe = build(args.spec, state["params"], cfg, args.data, rt,
                            limits_from_args(args, batch=cfg.eval_batch_size))
        try:
            model.load_state_dict(state["model"])
        except (RuntimeError, KeyError, TypeError, ValueError) as e:   # wrong shapes or names
            raise checkpoint.unusable(args.checkpoint, e) from None
        warning = checkpoint.weights_warning(state)
        if warning and rt.is_main:
            import sys
            print(warning, file=sys.stderr)
        res = evaluate(model, pipe, rt, ten_crop=cfg.ten_crop, batch_size=cfg.eval_batch_size,
                       autocast=lambda: autocast(cfg, rt.device))
    finally:
        teardown(rt)
    if rt.is_main:
        if args.format == "json":
            spec = args.spec if "\n" not in args.spec else state.get("spec")
            print(json.dumps({"checkpoint": str(args.checkpoint), "spec": spec,
                              "step": state["step"], "view": "10-crop" if cfg.ten_crop else "single",
                              **res}))
        else:
            view = "10-crop" if cfg.ten_crop else "single view"
            print(f"test accuracy {100 * res['test_acc']:.2f}% (error {res['test_err']:.2f}%), "
                  f"top-5 {100 * res['test_top5_acc']:.2f}% (error {res['test_top5_err']:.2f}%) "
                  f"on {res['test_count']} images, {view}, step {state['step']}")
    return 0


def _spec_of(state: dict[str, Any]) -> str:
    """The spec a checkpoint was trained from: its name or path when that still resolves
    here, else the spec text it stores (the run may have been elsewhere)."""
    from pathlib import Path
    from archdsl.api import list_specs
    spec = str(state.get("spec", ""))
    if spec.startswith("testnet:") or spec in list_specs() or Path(spec).is_file():
        return spec
    return state["spec_text"]


def cmd_bench(args: argparse.Namespace) -> int:
    """Steady-state images/s and peak memory of the lowered spec on a random batch."""
    from archdsl.train.bench import bench
    size = _input(args)
    batch = args.batch or 64
    res = bench(args.spec, defines(args), batch=batch, train=args.train,
                device=args.device or "auto", compile=args.compile, channels_last=args.channels_last,
                amp=args.amp, input_size=tuple(size) if size else None,
                warmup=args.warmup, iters=args.iters, limits=limits_from_args(args, batch=batch))
    if args.format == "json":
        print(json.dumps(res))
    else:
        print(f"{res['spec']} {res['mode']} on {res['device']}, batch {res['batch']}, input "
              f"{'x'.join(map(str, res['input_shape']))}, amp {res['amp']}, channels_last "
              f"{res['channels_last']}, compile {res['compile']}: {res['images_per_s']:,.1f} images/s "
              f"({res['ms_per_batch']:.1f} ms/batch), peak memory "
              f"{res['peak_memory_bytes'] / 2**20:,.0f} MiB ({res['peak_memory_kind']})")
    return 0


def _spec(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="spec file or name (testnet:resnet / testnet:plain for built-in test nets)")


def register(subparsers: Any) -> None:
    """Add ``train``, ``eval`` and ``bench`` to an argparse subparsers object."""
    p = subparsers.add_parser("train", help="train a spec", description=cmd_train.__doc__)
    _spec(p)
    add_options(p, *SPEC, "input", "batch", out={"required": True})
    p.add_argument("--data", default="digits",
                   help="digits | synthetic[:CxHxW[:N]] | cifar10:PATH | imagefolder:PATH (default digits)")
    p.add_argument("--recipe", help="recipe YAML path or name in recipes/ (e.g. cifar-paper, smoke)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any recipe setting")
    p.add_argument("--resume", action="store_true", help="continue exactly from --out's checkpoint")
    p.add_argument("--steps", type=integer)
    p.add_argument("--lr", type=finite)
    p.add_argument("--seed", type=integer)
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--amp", choices=("auto", "none", "bf16"))
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--deterministic", action="store_true", help="torch.use_deterministic_algorithms")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("eval", help="evaluate a checkpoint", description=cmd_eval.__doc__)
    p.add_argument("spec", nargs="?", help="spec file or name (default: the checkpoint's own)")
    add_options(p, *SPEC, "batch", format={"choices": FORMATS, "default": "text"})
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", default="digits")
    p.add_argument("--ten-crop", action="store_true", help="4 corners + centre and their flips")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--device")
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("bench", help="throughput and peak memory", description=cmd_bench.__doc__)
    _spec(p)
    add_options(p, *SPEC, "input", "batch", format={"choices": FORMATS, "default": "text"})
    p.add_argument("--train", action="store_true", help="time forward+backward+SGD, not inference")
    p.add_argument("--device", nargs="?", const="cuda", default=None,
                   help="device (bare --device means cuda; default: cuda if available)")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--amp", choices=("none", "bf16"), default="none")
    p.add_argument("--warmup", type=integer, default=3)
    p.add_argument("--iters", type=integer, default=10)
    p.set_defaults(func=cmd_bench)
