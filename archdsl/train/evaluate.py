"""Single-view and 10-crop evaluation, exact under data parallelism.

Each rank scores a disjoint, interleaved subset of the test set (no padding, so no sample is
counted twice) and the sums of loss, correct predictions and count are all-reduced.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from archdsl.train.pipeline import Pipeline
from archdsl.train.runtime import Runtime


@torch.no_grad()
def evaluate(model: nn.Module, pipe: Pipeline, rt: Runtime, *, ten_crop: bool = False,
             batch_size: int = 256, autocast=None, channels_last: bool = False) -> dict[str, float]:
    """Test loss, top-1 and top-5 accuracy and error (%); 10-crop averages the softmax over
    the views. (With fewer than 5 classes, top-5 counts all of them.)

    ``autocast`` is a zero-argument factory of the autocast context (or None)."""
    was_training = model.training
    model.eval()
    idx = pipe.eval_indices()
    sums = torch.zeros(4, dtype=torch.float64, device=rt.device)  # loss, correct, count, top-5
    for i in range(0, len(idx), batch_size):
        j = idx[i: i + batch_size]
        views = pipe.eval_views(pipe.test_x[j], ten_crop)
        y = pipe.test_y[j].to(rt.device)
        v, n = views.shape[:2]
        x = views.flatten(0, 1)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast() if autocast is not None else contextlib.nullcontext():
            logits = model(x)
        prob = F.softmax(logits.float(), -1).view(v, n, -1).mean(0)
        sums[0] += F.nll_loss(prob.clamp_min(1e-12).log(), y, reduction="sum").double()
        sums[1] += (prob.argmax(-1) == y).sum()
        sums[2] += n
        top5 = prob.topk(min(5, prob.shape[-1]), -1).indices
        sums[3] += (top5 == y[:, None]).any(-1).sum()
    rt.all_sum(sums)
    model.train(was_training)
    loss, correct, count, correct5 = sums.tolist()
    acc, acc5 = correct / max(count, 1), correct5 / max(count, 1)
    return {"test_loss": loss / max(count, 1), "test_acc": acc, "test_err": 100 * (1 - acc),
            "test_top5_acc": acc5, "test_top5_err": 100 * (1 - acc5), "test_count": int(count)}
