"""torchrun --nproc_per_node=2 (gloo, CPU): identical weights on both ranks, and distributed
evaluation that counts each of an odd number of test samples exactly once."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import torch

from archdsl.train.config import TrainConfig
from archdsl.train.data import load_data
from archdsl.train.pipeline import Pipeline
from conftest import ROOT

WORKER = textwrap.dedent("""
    import json, os, sys, torch
    from archdsl.train.config import load_config
    from archdsl.train.loop import train
    out, rank = sys.argv[1], int(os.environ["RANK"])
    holder = {}
    cfg = load_config(None, dict(steps=2, batch_size=8, lr=0.1, milestones=[], log_every=1,
                                 eval_every=2, ckpt_every=2, input_size=[3, 8, 8], deterministic=True))
    res = train("testnet:resnet", "synthetic:3x8x8:30", cfg, out + "/run", params={"n": 1},
                on_step=lambda step, model: holder.update(model=model), quiet=True)
    torch.save(holder["model"].state_dict(), f"{out}/rank{rank}.pt")
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump(res, f)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_ranks(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(script), str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    w0, w1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    init = _initial_weights()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    assert not torch.equal(w0["fc.weight"], init["fc.weight"])  # it did train
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    # synthetic:…:30 has 30 // 4 = 7 test images: odd, so padding would show up as 8.
    assert r0["test_count"] == r1["test_count"] == 7
    assert r0["test_acc"] == r1["test_acc"] and r0["world"] == 2 and r0["step"] == 2
    # The distributed accuracy equals a single-process evaluation of the saved checkpoint.
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "checkpoint.pt", "config.yaml",
                                                     "curves.png", "metrics.jsonl"]
    code = subprocess.run([sys.executable, "-m", "archdsl.train", "eval", "testnet:resnet", "--checkpoint",
                           str(run / "checkpoint.pt"), "--data", "synthetic:3x8x8:30", "--format", "json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert code.returncode == 0, code.stderr
    single = json.loads(code.stdout.strip().splitlines()[-1])
    assert single["test_count"] == 7
    assert abs(single["test_acc"] - r0["test_acc"]) < 1e-9


def _initial_weights():
    from archdsl.train.models import make_model
    torch.manual_seed(0)
    return make_model("testnet:resnet", {"n": 1}, 10, (3, 8, 8)).state_dict()


def test_sharding_is_disjoint_and_complete():
    data = load_data("synthetic:3x8x8:30")
    cfg = TrainConfig(batch_size=8)
    pipes = [Pipeline(data, cfg, (3, 8, 8), torch.device("cpu"), rank=r, world=2) for r in (0, 1)]
    ev = [p.eval_indices().tolist() for p in pipes]
    assert sorted(ev[0] + ev[1]) == list(range(7)) and not set(ev[0]) & set(ev[1])
    alone = Pipeline(data, cfg, (3, 8, 8), torch.device("cpu"))
    for _ in range(5):  # crosses an epoch boundary (3 batches of 8 per epoch of 30)
        shards = [p.next_indices().tolist() for p in pipes]
        whole = alone.next_indices().tolist()
        assert len(shards[0]) == len(shards[1]) == 4
        assert sorted(shards[0] + shards[1]) == sorted(whole)
