"""Run feedback: metrics.jsonl, a rich progress bar (TTY only) or plain log lines, the PNG."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from archdsl.atomic import write_text
from archdsl.train.errors import TrainError
from archdsl.train.plot import Series, plot_panels


class MetricsLog:
    """Append-only ``metrics.jsonl``: one JSON object per log/eval event.

    A fresh run empties the file and a resume drops the rows after its checkpoint; both
    rewrites are atomic, so a kill during one leaves the previous log whole.
    """

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        if resume_step is not None and path.exists():
            # Drop rows written after the checkpoint we resume from: they will be redone.
            keep = [json.dumps(r) for r in _parse(path)
                    if r.get("step", 0) <= resume_step]
            write_text(path, "".join(k + "\n" for k in keep))
        elif resume_step is None:
            write_text(path, "")

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (flushed immediately, so a crash loses nothing logged)."""
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        """All rows written so far."""
        return _parse(self.path)


#: What every metrics row holds, per kind: the numeric fields that plots and resumes read.
ROW_FIELDS = {"train": ("train_err", "train_loss", "lr"), "test": ("test_err",)}
_EDITED = "this is not an archdsl run directory, or the file was edited"


def _parse(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics log. A last line cut short (the process was killed mid-append)
    is dropped; a bad line anywhere else (not JSON, not a row of :data:`ROW_FIELDS` with a
    whole ``step``) means the file is not ours and is an error."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise TrainError(f"{path}: line {line} is not UTF-8 text", hint=_EDITED) from None
    lines = [ln for ln in text.split("\n") if ln.strip()]
    rows = []
    for i, ln in enumerate(lines):
        try:
            row = json.loads(ln)
        except (json.JSONDecodeError, ValueError, RecursionError):   # ValueError: 5,000-digit ints
            if i == len(lines) - 1 and not text.endswith("\n"):
                break
            raise TrainError(f"{path}: line {i + 1} is not a JSON row", hint=_EDITED) from None
        why = _row_error(row)
        if why:
            raise TrainError(f"{path}: line {i + 1}: {why}", hint=_EDITED)
        rows.append(row)
    return rows


def _row_error(row: Any) -> str | None:
    """Why ``row`` is not a metrics row, or None."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if not isinstance(row, dict):
        return f"a row is a JSON object, not {type(row).__name__}"
    step = row.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return f"'step' must be a whole number, not {step!r:.40}"
    if "kind" not in row:   # a row of another kind of event: kept, never plotted
        return None
    fields = ROW_FIELDS.get(row["kind"])
    if fields is None:
        return f"'kind' must be one of {', '.join(ROW_FIELDS)}, not {row.get('kind')!r:.40}"
    missing = [k for k in fields if not number(row.get(k))]
    if missing:
        return f"a {row['kind']} row needs numbers {', '.join(missing)}"
    return None


def interactive() -> bool:
    """A live progress bar only on a terminal, and never in CI logs."""
    return sys.stdout.isatty() and not os.environ.get("CI")


class Progress:
    """What a person watching a run sees: on a terminal a live rich bar (step/total, elapsed,
    ETA, the latest figures); elsewhere (a pipe, a CI log, nohup) one plain line per logging
    interval with the same facts, ``step 120/64000  0:01:05 elapsed  ETA 5:47:10  loss …``."""

    def __init__(self, total: int, start: int, enabled: bool, quiet: bool = False):
        self.enabled, self.quiet, self.bar = enabled, quiet, None
        self.total, self.start = total, start
        if enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            from rich.progress import Progress as RichProgress
            self.bar = RichProgress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                    TextColumn("{task.fields[info]}"))
            self.task = self.bar.add_task("train", total=total, completed=start, info="")
            self.bar.start()
        self.t0 = time.time()

    def eta(self, step: int, now: float | None = None) -> tuple[float, float | None]:
        """Seconds elapsed in this process, and the estimated seconds left (None before the
        first step): the rate of the steps done here, applied to the steps still to do."""
        elapsed = (now if now is not None else time.time()) - self.t0
        done = step - self.start
        return elapsed, (elapsed / done * (self.total - step) if done > 0 else None)

    def update(self, step: int, info: str) -> None:
        """Advance to ``step`` and show ``info`` (called only at logging intervals)."""
        if self.bar is not None:
            self.bar.update(self.task, completed=step, info=info)
        elif not self.quiet:
            elapsed, left = self.eta(step)
            eta = clock(left) if left is not None else "?"
            print(f"step {step:>7}/{self.total}  {clock(elapsed)} elapsed  ETA {eta}  {info}",
                  flush=True)

    def close(self) -> None:
        """Stop the live display."""
        if self.bar is not None:
            self.bar.stop()


def clock(seconds: float) -> str:
    """``3725.2`` -> ``1:02:05``."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def plot_run(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Three panels over the iterations: training (dashed) and test (bold) error, as in the
    paper's Figure 4; training and test loss; the learning rate."""
    def pts(kind: str, key: str) -> tuple[list[float], list[float]]:
        got = [(r["step"], r[key]) for r in rows if r.get("kind") == kind and key in r]
        return [x for x, _ in got], [y for _, y in got]
    error = [Series(f"{title} train", *pts("train", "train_err"), 0, True, 1),
             Series(f"{title} test", *pts("test", "test_err"), 0, False, 3)]
    loss = [Series("train loss", *pts("train", "train_loss"), 1, True, 1),
            Series("test loss", *pts("test", "test_loss"), 1, False, 3)]
    lr = [Series("learning rate", *pts("train", "lr"), 2, False, 2)]
    return plot_panels([(error, "error (%)"), (loss, "loss"), (lr, "learning rate")], path, title)
