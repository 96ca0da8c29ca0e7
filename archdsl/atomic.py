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
import threading
from pathlib import Path
from typing import Iterator, Mapping


def unwind_on_signal(signum: int, frame) -> None:
    """A signal handler that unwinds like Ctrl-C (exit status 128 + signum), so every
    atomic write in progress drops its temp file and the target keeps its old content."""
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
    signal.signal(signal.SIGTERM, unwind_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _temp_beside(path: Path) -> Path:
    """A new empty temp file in ``path``'s directory (same filesystem, so the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile   # here, not at the top: ~4 ms of start-up for commands that write nothing
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    return Path(name)


def _commit(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the mode ``path`` has (or the umask's usual one: mkstemp creates 0600),
    fsync it, and rename it over ``path``."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else vanishes.

    The temp file keeps ``path``'s suffix last (some writers, e.g. torch.export.save and
    Pillow, pick the format from it), keeps the replaced file's mode or gets the usual
    umask-derived one (mkstemp creates 0600) and is fsynced before the rename.
    """
    path = Path(path)
    with _sigterm_unwinds():
        tmp = _temp_beside(path)
        try:   # from here the temp file is always removed; only a signal inside mkstemp could strand it
            yield tmp
            _commit(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        _write(tmp, text)
    return Path(path)


def write_texts(files: Mapping[str | os.PathLike, str]) -> list[Path]:
    """Write several files that belong together (a build's model.py, ir.yaml, report.json).

    Every new content is written and fsynced to its temp file first; only then are the temp
    files renamed over their targets, in order, back to back. A kill while contents are
    written leaves all the old files; only a kill between two renames (microseconds apart)
    can leave a mix, and even then each file is whole, old or new.
    """
    targets = [Path(p) for p in files]
    temps: list[Path] = []
    with _sigterm_unwinds():
        try:
            for path, text in zip(targets, files.values()):
                temps.append(_temp_beside(path))
                _write(temps[-1], text)
            for tmp, path in zip(temps, targets):
                _commit(tmp, path)
        finally:
            for tmp in temps:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
    return targets


def _write(tmp: Path, text: str) -> None:
    with open(tmp, "w", encoding="utf-8", newline="") as f:   # newlines as given
        f.write(text)


@contextlib.contextmanager
def locked_dir(directory: str | os.PathLike, what: str) -> Iterator[Path]:
    """Create ``directory`` if needed and hold an exclusive lock on it while the block runs.

    Two ``archdsl train`` runs into the same ``--out`` would interleave their metrics and
    overwrite each other's checkpoint; two builds into one directory could mix their files.
    The second is refused at once with an :class:`~archdsl.errors.ArchError` naming ``what``
    holds the directory. The lock is ``flock`` on the directory itself, so no lock file is
    left behind, and the kernel drops it when the process dies (kill -9 included), so there
    is no stale lock to clean up. Where ``flock`` does not exist (Windows) nothing is locked.
    """
    from archdsl.errors import COMMAND_LINE, ArchError
    path = Path(directory)
    try:
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise output_error(e, path) from None
    try:
        try:
            import fcntl
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:   # pragma: no cover - Windows
            pass
        except BlockingIOError:
            raise ArchError(f"{path} is in use by another archdsl {what}", COMMAND_LINE,
                            hint="wait for it to finish, or choose another directory "
                                 "with -o/--out") from None
        try:
            yield path
        except BaseException:
            if created:   # a run that failed before writing anything leaves no empty directory
                with contextlib.suppress(OSError):
                    path.rmdir()
            raise
    finally:
        os.close(fd)   # closing releases the lock


def output_error(e: OSError, path: Path) -> "ArchError":
    """An OSError met while writing under ``path`` as a one-line ArchError (``-o`` naming a
    file, a read-only or full file system, a name too long)."""
    import errno

    from archdsl.errors import COMMAND_LINE, ArchError
    hints = {errno.EEXIST: "it is a file: -o/--out names a directory",
             errno.ENOTDIR: "a part of the path is a file, not a directory",
             errno.EACCES: "choose a directory you can write to",
             errno.EROFS: "the file system is read-only: choose another directory",
             errno.ENOSPC: "the disk is full: free space or choose another directory",
             errno.EDQUOT: "the disk quota is exceeded",
             errno.ENAMETOOLONG: "use a shorter path"}
    where = e.filename if e.filename is not None else path
    return ArchError(f"cannot write {str(where)[:200]}: {e.strerror or e}", COMMAND_LINE,
                     hint=hints.get(e.errno))
