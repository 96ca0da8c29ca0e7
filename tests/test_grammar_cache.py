"""The cross-process cache of Lark's parser tables (archdsl.lang.grammar_cache).

The cache may make start-up faster, never wrong: every case below must parse exactly as an
uncached parser does, whatever state the cache directory is in.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SPEC_DIR
from archdsl.lang import grammar_cache
from archdsl.lang.parser import parse

GRAMMAR = ROOT / "archdsl" / "lang" / "grammar.lark"
OPTIONS = dict(parser="lalr", propagate_positions=True, maybe_placeholders=False)
TEXT = (SPEC_DIR / "resnet50.arch").read_text()


def _tree(parser):
    return parser.parse(TEXT + "\n")


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv(grammar_cache.ENV, str(d))
    return d


def _entries(d: Path) -> list[Path]:
    return sorted(d.glob("grammar-*.lark")) if d.exists() else []


def test_first_use_writes_one_entry_and_second_reads_it(cache):
    reference = grammar_cache.Lark(GRAMMAR.read_text(), **OPTIONS)
    first = grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    (entry,) = _entries(cache)
    assert oct(cache.stat().st_mode & 0o777) == oct(0o700)
    second = grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    assert _entries(cache) == [entry]
    assert _tree(first) == _tree(second) == _tree(reference)
    # positions survive the round trip through the cache (every error message needs them)
    tok = next(_tree(second).scan_values(lambda v: str(v) == "bottleneck"))
    assert (tok.line, tok.column) == (12, 7)
    assert not list(cache.glob(".tmp-*"))     # nothing half-written left behind


def test_a_changed_grammar_or_option_gets_its_own_entry(cache, tmp_path):
    grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    edited = tmp_path / "g.lark"
    edited.write_text(GRAMMAR.read_text() + "\n// a comment changes the key\n")
    grammar_cache.cached_lark(edited, **OPTIONS)
    grammar_cache.cached_lark(GRAMMAR, **{**OPTIONS, "propagate_positions": False})
    assert len(_entries(cache)) == 3


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\x80\x04\x95 truncated pickle"])
def test_a_corrupt_or_stale_entry_is_rebuilt(cache, content):
    grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    (entry,) = _entries(cache)
    entry.write_bytes(content)
    parser = grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    assert _tree(parser) == _tree(grammar_cache.Lark(GRAMMAR.read_text(), **OPTIONS))
    assert entry.stat().st_size > 1000      # rewritten with good tables


def test_an_unwritable_cache_directory_still_parses(cache, monkeypatch):
    cache.mkdir(mode=0o500)
    if os.access(cache, os.W_OK):   # root writes anywhere: make the file system refuse instead
        def refuse(*a, **k):
            raise PermissionError(30, "Read-only file system")
        monkeypatch.setattr("tempfile.mkstemp", refuse)
    try:
        parser = grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
        assert _tree(parser) == _tree(grammar_cache.Lark(GRAMMAR.read_text(), **OPTIONS))
        assert _entries(cache) == []
    finally:
        cache.chmod(0o700)


def test_a_cache_path_that_is_a_file_still_parses(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv(grammar_cache.ENV, str(blocker / "cache"))
    assert _tree(grammar_cache.cached_lark(GRAMMAR, **OPTIONS)) is not None


def test_entries_others_can_write_are_never_unpickled(cache, monkeypatch):
    grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    (entry,) = _entries(cache)
    loaded = []
    monkeypatch.setattr(grammar_cache.Lark, "load", classmethod(lambda cls, f: loaded.append(f)))
    entry.chmod(0o666)                    # a group/world-writable file could have been replaced
    grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    entry.chmod(0o600)
    cache.chmod(0o777)                    # so could anything in a world-writable directory
    grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    cache.chmod(0o700)
    assert loaded == []
    entry.unlink()
    link_target = cache / "elsewhere.lark"
    grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    (entry,) = _entries(cache)
    entry.rename(link_target)
    entry.symlink_to(link_target)         # nor through a symlink
    grammar_cache.cached_lark(GRAMMAR, **OPTIONS)
    assert loaded == []


def test_empty_setting_disables_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(grammar_cache.ENV, "")
    assert grammar_cache.cache_dir() is None
    monkeypatch.delenv(grammar_cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert grammar_cache.cache_dir() == tmp_path / "archdsl"


def test_concurrent_first_use_all_parse_and_leave_one_good_entry(cache):
    """Several processes start at once on an empty cache: each parses correctly, and the
    entry left behind is complete (atomic replace: no reader ever sees a partial file)."""
    code = ("from archdsl.lang.parser import parse; import sys; "
            "s = parse(open(sys.argv[1]).read(), 'x'); print(len(s.statements))")
    env = {**os.environ, grammar_cache.ENV: str(cache), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(SPEC_DIR / "resnet50.arch")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
             for _ in range(6)]
    outs = [p.communicate(timeout=300) for p in procs]
    expected = str(len(parse(TEXT, "x").statements))
    assert [(p.returncode, o.strip(), e) for p, (o, e) in zip(procs, outs)] == \
        [(0, expected, "")] * 6
    (entry,) = _entries(cache)
    assert not list(cache.glob(".tmp-*"))
    assert _tree(grammar_cache._load(entry)) == _tree(grammar_cache.Lark(GRAMMAR.read_text(), **OPTIONS))
