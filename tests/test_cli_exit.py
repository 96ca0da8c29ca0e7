"""How the command ends: short commands pause the cyclic GC and skip the interpreter's
teardown (cli.main.run), yet every byte of output arrives and the exit status is kept."""
from __future__ import annotations

import gc
import json
import subprocess
import sys

import archdsl.api
from archdsl.cli import main as cli
from conftest import ROOT


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archdsl", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_output_is_complete_after_the_hard_exit():
    done = _run("report", "resnet18", "--by", "layer", "-f", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)       # complete: the last byte was flushed before exiting
    assert len(doc["layers"]) > 50 and doc["total"]["params"] == 11_689_512


def test_exit_status_and_diagnostic_survive_the_hard_exit():
    done = _run("check", "resnet18", "no-such-network")
    assert done.returncode == 2
    assert "ok  resnet18" in done.stdout and "no spec or family member" in done.stderr


def test_short_commands_pause_the_collector_and_restore_it(monkeypatch, capsys):
    seen = []
    real = archdsl.api.load
    monkeypatch.setattr(archdsl.api, "load", lambda *a, **k: seen.append(gc.isenabled())
                        or real(*a, **k))
    assert gc.isenabled()
    assert cli.main(["check", "resnet18"]) == 0
    assert seen == [False] and gc.isenabled()
    gc.disable()    # an embedding program that turned it off itself keeps it off
    try:
        assert cli.main(["check", "resnet18"]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_long_running_commands_are_the_torch_ones():
    assert set(cli.LONG_RUNNING) == {"train", "eval", "bench"}
    assert set(cli.LONG_RUNNING) <= set(cli.HELP)
