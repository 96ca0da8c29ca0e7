"""Reading a user's input file (a spec, an ``ir.yaml``, a recipe) with a size cap, and only
if it is a regular file.

``/dev/zero`` or ``/dev/urandom`` given as a spec would be read until memory runs out, and a
FIFO blocks ``open`` until someone writes to it: both are refused from ``stat`` alone, before
the file is opened. A regular file is read up to the cap plus one byte, so a file that grows
while it is read is still refused, not read without end.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from archdsl.errors import ArchError, Span



def read_capped(path: str | os.PathLike, max_bytes: int, what: str = "spec",
                option: str = "--max-spec-bytes") -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them; a located
    :class:`ArchError` for a device, FIFO, socket or directory, an over-size file, or an
    OS error (missing, unreadable)."""
    p = Path(path)
    where = Span(str(p), 1, 1)
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise ArchError(f"cannot read {p}: it is {kind}, not a {what} file", where,
                            hint=f"give the path of a {what} file")
        if st.st_size > max_bytes:
            raise _too_big(p, st.st_size, max_bytes, what, option)
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ArchError(f"cannot read {p}: {e.strerror or e}", where) from None
    if len(data) > max_bytes:   # it grew after the stat
        raise _too_big(p, len(data), max_bytes, what, option)
    return data


def _too_big(p: Path, size: int, cap: int, what: str, option: str) -> ArchError:
    return ArchError(f"{p} is {size:,} bytes{' or more' if size == cap + 1 else ''}, over the {cap:,}-byte "
                     f"limit for a {what} file", Span(str(p), 1, 1),
                     hint=f"a {what} this big is almost certainly not one; raise the limit with "
                          f"{option}")
