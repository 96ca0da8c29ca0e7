"""The training loop: model + pipeline + SGD schedule, checkpoints, metrics, exact resume.

The step loop keeps every statistic on the device; the host synchronises only at logging,
evaluation and checkpoint steps, which is also where a NaN/Inf loss is detected (the run
then stops with :class:`TrainError`, leaving the last good checkpoint in place).
"""
from __future__ import annotations

import bisect
import contextlib
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
import yaml
from torch import nn

from archdsl.atomic import locked_dir, write_text
from archdsl.ir.limits import Limits
from archdsl.train import checkpoint as ckpt_io
from archdsl.train.config import TrainConfig
from archdsl.train.data import load_data
from archdsl.train.errors import TrainError
from archdsl.train.evaluate import evaluate
from archdsl.train.feedback import MetricsLog, Progress, interactive, plot_run
from archdsl.train.models import input_shape, make_model, spec_text, validate
from archdsl.train.pipeline import Pipeline
from archdsl.train.runtime import Runtime, autocast, setup, teardown, use_channels_last


#: Beside the last checkpoint (checkpoint.pt), the one of the best test accuracy so far.
BEST = "best.pt"


def lr_factor(cfg: TrainConfig) -> Callable[[int], float]:
    """Multiplier of ``cfg.lr`` for the update after ``step`` updates (LambdaLR's convention)."""
    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return cfg.warmup_lr / cfg.lr
        if cfg.schedule == "step":
            return cfg.gamma ** bisect.bisect_right(sorted(cfg.milestones), step)
        if cfg.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(step, cfg.steps) / max(cfg.steps, 1)))
        return 1.0
    return factor


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum and weight decay on every parameter (as in the papers), or AdamW."""
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)


def _gather(rt: Runtime, t: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped tensor (for per-rank RNG states in checkpoints)."""
    if rt.world == 1:
        return [t]
    dev = rt.device if rt.device.type == "cuda" else torch.device("cpu")
    out = [torch.empty_like(t, device=dev) for _ in range(rt.world)]
    dist.all_gather(out, t.to(dev))
    return [o.cpu() for o in out]


def build(spec: str, params: dict, cfg: TrainConfig, data_spec: str, rt: Runtime,
          limits: Limits | None = None):
    """Load the data, build the model for its classes and input, and the device pipeline.

    ``limits`` are checked on the IR before any weight is allocated (default: the
    :class:`~archdsl.ir.limits.Limits` defaults at the recipe's batch size)."""
    limits = limits or Limits(batch=cfg.batch_size)
    # A spec error or an over-budget spec is refused before reading the dataset (minutes
    # for a big image folder); the class count from the data is applied when building.
    validate(spec, params, cfg.num_classes, limits)
    data = load_data(data_spec, val_split=cfg.val_split, store_size=cfg.store_size,
                     input_size=tuple(cfg.input_size) if cfg.input_size else None, seed=cfg.seed)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank and every rerun
    want = tuple(cfg.input_size) if cfg.input_size else None
    model = make_model(spec, params, cfg.num_classes or data.num_classes, want, limits)
    shape = input_shape(model, want or data.shape)
    pipe = Pipeline(data, cfg, shape, rt.device, rt.rank, rt.world)
    return model.to(rt.device), pipe


def train(spec: str, data: str, cfg: TrainConfig, out: str | Path, *, params: dict | None = None,
          resume: bool = False, on_step: Callable[[int, nn.Module], None] | None = None,
          quiet: bool = False, limits: Limits | None = None) -> dict[str, Any]:
    """Train ``spec`` on ``data`` into directory ``out``; returns the final summary.

    ``on_step(step, model)`` is called after every update (tests use it to interrupt a run).
    ``limits`` are the resource budgets (default: :class:`~archdsl.ir.limits.Limits` at the
    recipe's batch size), checked on the IR before any weight is allocated.
    Launched by torchrun, this process is one data-parallel rank; only rank 0 writes files.
    """
    params, out = dict(params or {}), Path(out)
    ckpt_path, text = out / "checkpoint.pt", spec_text(spec)
    # rank 0 writes the run directory, and holds it: a second run into it is refused at once
    # instead of interleaving metrics and overwriting the checkpoint
    held = locked_dir(out, "train run") if int(os.environ.get("RANK", "0")) == 0 \
        else contextlib.nullcontext()
    with held:
        return _train(spec, data, cfg, out, params, resume, on_step, quiet, limits, ckpt_path, text)


def _train(spec, data, cfg, out, params, resume, on_step, quiet, limits, ckpt_path, text):
    if ckpt_path.exists() and not resume:
        raise TrainError(f"{out} already holds a run", hint="pass --resume, or choose another --out")
    if resume and not ckpt_path.exists():
        raise TrainError(f"nothing to resume: {ckpt_path} does not exist")
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    rt = setup(cfg)
    try:
        return _run(spec, data, cfg, out, params, resume, on_step, quiet, rt, ckpt_path, text, limits)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        teardown(rt)


def _run(spec, data_spec, cfg, out, params, resume, on_step, quiet, rt, ckpt_path, text, limits):
    model, pipe = build(spec, params, cfg, data_spec, rt, limits)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg))
    start, best = 0, -1.0      # the best test accuracy so far: best.pt holds its weights
    if resume:
        state = ckpt_io.load(ckpt_path, text, params)
        if state.get("world") != rt.world:
            raise TrainError(f"{ckpt_path} was written by {state.get('world')} processes; "
                             f"resume with the same number for an exact continuation")
        try:   # a tampered checkpoint (wrong shapes, missing states) is one line, not a traceback
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            pipe.load_state_dict({**state["pipeline"], "aug_gen": state["aug_gens"][rt.rank]})
            ckpt_io.set_rng_state(state["rng"])
            torch.set_rng_state(state["torch_rngs"][rt.rank])
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as e:
            raise ckpt_io.unusable(ckpt_path, e) from None
        start = int(state["step"])
        best = float(state.get("best_test_acc", best))
    if rt.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "config.yaml", yaml.safe_dump(
            {"spec": spec, "params": params, "data": data_spec, **cfg.to_dict()}, sort_keys=False))
    log = MetricsLog(out / "metrics.jsonl", start if resume else None) if rt.is_main else None
    channels_last = use_channels_last(cfg, rt.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    raw = model
    if rt.world > 1:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    if cfg.compile:
        model = torch.compile(model)
    amp = lambda: autocast(cfg, rt.device)  # noqa: E731 - a fresh context per use
    sums = torch.zeros(4, device=rt.device)  # loss·n, correct, n, non-finite losses
    progress = Progress(cfg.steps, start, interactive() and rt.is_main, quiet or not rt.is_main)
    t_last, last = time.time(), {}
    model.train()
    try:
        for step in range(start, cfg.steps):
            x, y = pipe.next_train()
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with amp():
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                d = loss.detach()
                sums += torch.stack([d * len(y), (logits.argmax(-1) == y).sum().float(),
                                     torch.tensor(float(len(y)), device=rt.device),
                                     (~torch.isfinite(d)).float()])
            done = step + 1
            if on_step is not None:
                on_step(done, raw)
            is_eval, is_ckpt = done % cfg.eval_every == 0, done % cfg.ckpt_every == 0
            if not (done % cfg.log_every == 0 or is_eval or is_ckpt or done == cfg.steps):
                continue
            tot = rt.all_sum(sums.clone()).tolist()  # the only host sync of the interval
            sums.zero_()
            if tot[3] > 0:
                raise TrainError(
                    f"loss became NaN/Inf by step {done}; training stopped",
                    hint=(f"the last good checkpoint is kept in {ckpt_path}" if ckpt_path.exists()
                          else "no checkpoint was written yet") + "; try a lower lr or warm-up")
            now = time.time()
            ips = tot[2] / max(now - t_last, 1e-9)  # images of all ranks since the last log
            t_last = now
            row = {"kind": "train", "step": done, "epoch": pipe.epoch, "lr": opt.param_groups[0]["lr"],
                   "train_loss": tot[0] / tot[2], "train_err": 100 * (1 - tot[1] / tot[2]),
                   "images_per_s": ips}
            if log:
                log.write(row)
            last.update(row)
            if is_eval or done == cfg.steps:
                res = evaluate(model, pipe, rt, batch_size=cfg.eval_batch_size, autocast=amp,
                               channels_last=channels_last)
                last.update(res)
                if log:
                    log.write({"kind": "test", "step": done, **res})
                if res["test_acc"] > best:    # the same on every rank (all-reduced)
                    best = res["test_acc"]
                    _save(out / BEST, raw, opt, sched, pipe, rt, done, cfg, spec, params, text, best)
            progress.update(done, f"loss {row['train_loss']:.3f} acc {100 - row['train_err']:.1f}% "
                                  f"lr {row['lr']:.3g} {ips:,.0f} img/s"
                            + (f" test {last['test_acc'] * 100:.2f}% top-5 {last['test_top5_acc'] * 100:.2f}%"
                               if "test_acc" in last else ""))
            if is_ckpt or done == cfg.steps:
                _save(ckpt_path, raw, opt, sched, pipe, rt, done, cfg, spec, params, text, best)
    finally:
        progress.close()
    if start >= cfg.steps:  # resumed a finished run: just report its test figures
        last.update(evaluate(model, pipe, rt, batch_size=cfg.eval_batch_size, autocast=amp,
                             channels_last=channels_last))
    if rt.is_main and log:
        plot_run(log.rows(), out / "curves.png", spec.split("/")[-1])
    return {"step": max(start, cfg.steps), "out": str(out), "rank": rt.rank, "world": rt.world, **last}


def _save(path, raw, opt, sched, pipe, rt, done, cfg, spec, params, text, best) -> None:
    # Per-rank RNG states are gathered on all ranks (a collective), then rank 0 writes.
    pstate = pipe.state_dict()
    aug_gens = _gather(rt, pstate.pop("aug_gen"))
    torch_rngs = _gather(rt, torch.get_rng_state())
    if rt.world > 1:  # make BN running statistics identical everywhere before saving
        for b in raw.buffers():
            dist.broadcast(b, 0)
    if rt.is_main:
        ckpt_io.save(path, {
            "model": raw.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "step": done, "pipeline": pstate, "aug_gens": aug_gens, "torch_rngs": torch_rngs,
            "rng": ckpt_io.rng_state(), "world": rt.world, "config": cfg.to_dict(), "spec": spec,
            "params": params, "spec_text": text, "spec_sha256": ckpt_io.spec_digest(text),
            # what rebuilds this model without the data (build --export --checkpoint, eval)
            "num_classes": getattr(raw, "num_classes", None),
            "input_shape": list(getattr(raw, "input_shape", ()) or ()),
            "best_test_acc": best})
    rt.barrier()
