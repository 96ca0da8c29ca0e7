"""Lark's LALR tables, cached across processes.

Building the parser tables from ``grammar.lark`` costs ~40 ms per process, more than the real
work of ``archdsl check`` on a large spec. The tables depend only on the grammar text, lark's
version, the options and Python's version, so they are computed once and kept in a user cache
directory under a name derived from all four (a new grammar or lark gets a new file; a stale file
is simply never read again).

Lark serialises with pickle, so the cache is read only from a directory the user owns and no one
else can write to (like ``~/.cache``), and only from a file the user owns. Anything unusual — no
home, a read-only or foreign directory, a truncated or corrupt file, a race with another process
writing the same entry — falls back to building the tables in memory: the cache can make start-up
faster, never wrong. Writes are atomic (temporary file + ``os.replace``), so concurrent first uses
each either see no file or a complete one.

``ARCHDSL_CACHE_DIR`` overrides the directory; ``ARCHDSL_CACHE_DIR=`` (empty) disables the cache.
"""
from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

import lark
from lark import Lark

ENV = "ARCHDSL_CACHE_DIR"


def cache_dir() -> Path | None:
    """The directory for archdsl's caches, or None when caching is disabled."""
    if ENV in os.environ:
        value = os.environ[ENV]
        return Path(value) if value else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if base.startswith("~"):   # no home directory to expand: do not cache in the cwd
        return None
    return Path(base) / "archdsl"


def cache_key(grammar: str, options: dict) -> str:
    """A name that changes whenever the tables could: grammar, options, lark and Python versions."""
    blob = "\0".join((grammar, repr(sorted(options.items())), lark.__version__,
                      "%d.%d" % sys.version_info[:2]))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _trusted(path: Path) -> bool:
    """Whether ``path`` (and its directory) belong to us and no one else may write them."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        for p in (path.parent, path):
            st = p.lstat()
            if uid is not None and st.st_uid != uid:
                return False
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or stat.S_ISLNK(st.st_mode):
                return False
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _load(path: Path) -> Lark | None:
    if not _trusted(path):
        return None
    try:
        with open(path, "rb") as f:
            return Lark.load(f)
    except Exception:   # truncated, corrupt or from an incompatible lark: rebuild instead
        return None


def _store(parser: Lark, path: Path) -> None:
    import tempfile   # only when writing (once per grammar): ~5 ms of imports otherwise
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    except OSError:
        return   # unwritable cache directory: run without a cache
    try:
        with os.fdopen(fd, "wb") as f:
            parser.save(f)
        os.replace(tmp, path)
    except Exception:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def cached_lark(grammar_path: Path, **options) -> Lark:
    """``Lark(grammar, **options)``, with its tables loaded from (or saved to) the user cache."""
    grammar = grammar_path.read_text(encoding="utf-8")
    directory = cache_dir()
    path = directory / f"grammar-{cache_key(grammar, options)}.lark" if directory else None
    if path is not None:
        parser = _load(path)
        if parser is not None:
            return parser
    parser = Lark(grammar, **options)
    if path is not None:
        _store(parser, path)
    return parser
