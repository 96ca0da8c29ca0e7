"""Atomic file writes: a kill at any moment leaves either the old file or the new one.

Every generated file (build outputs, fmt rewrites, checkpoints, exports, training configs,
metrics rewrites, plots) goes through here. The new content goes to a temporary file beside
the target, is fsynced and then renamed over it with ``os.replace`` (atomic on POSIX and
Windows). SIGKILL may leave a stray ``.NAME.*.tmpSUFFIX`` file, never a torn target; SIGTERM
and SIGINT unwind, so the temp file is deleted as well.
"""
from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator


def _unwind(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While a write is in flight, make a SIGTERM under its default action unwind instead.

    The default action kills the process on the spot and leaves the temp file behind. The
    ``archdsl`` CLI installs its own handler (left alone here), but library callers and
    ``python -m archdsl.train`` under torchrun do not. Only the main thread may set handlers.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return
    signal.signal(signal.SIGTERM, _unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else vanishes.

    The temp file keeps ``path``'s suffix last (some writers, e.g. torch.export.save and
    Pillow, pick the format from it), keeps the replaced file's mode or gets the usual
    umask-derived one (mkstemp creates 0600) and is fsynced before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_unwinds():
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        try:   # from here the temp file is always removed; only a signal inside mkstemp could strand it
            os.close(fd)
            tmp = Path(name)
            yield tmp
            try:   # a rewrite keeps the file's mode; a new file gets the umask's usual one
                mode = path.stat().st_mode & 0o7777
            except FileNotFoundError:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.chmod(tmp, mode)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:   # newlines as given
            f.write(text)
    return Path(path)
