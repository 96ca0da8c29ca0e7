"""No traceback, hang or silent acceptance on hostile input (issue 16), torch-free part:
numbers and flags, nesting, ir.yaml aliases and fields, spec files that are not files,
output errors, directory locks, error-count capping and the stride inference."""
from __future__ import annotations

import argparse
import errno
import os
import threading

import pytest
import yaml

import archdsl
from conftest import run_cli
from archdsl import errors as errmod
from archdsl.atomic import locked_dir
from archdsl.cli import options
from archdsl.cli.build_cmd import run_build
from archdsl.errors import ArchError, ArchErrors, Span
from archdsl.ir.limits import Limits
from archdsl.ir.yamlio import graph_from_yaml, graph_to_yaml

SMALL = "network small\ninput 3×8×8\nclasses 4\nconv1 8×8: 3×3, 8\nhead: average pool, fc-4\n"


# ---- numbers on the command line --------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("３", "ASCII digits"), ("٣", "ASCII digits"), ("9" * 19, "number too large"),
    ("9" * 5000, "number too large"), ("1," + "9" * 30, "number too large"),
    ("1e400", "number too large"), ("1e18", "number too large"), ("0.5x", "ASCII digits")])
def test_define_values_are_bounded_ascii_numbers(text, message):
    with pytest.raises(ArchError, match=message):
        options.parse_value(text)
    assert options.parse_value("0.75") == 0.75 and options.parse_value("9" * 18) == int("9" * 18)


def test_define_given_twice_is_refused():
    ns = argparse.Namespace(define=["n=3", "n=5"])
    with pytest.raises(ArchError, match="given twice"):
        options.defines(ns)
    assert options.defines(argparse.Namespace(define=["n=3", "m=5"])) == {"n": 3, "m": 5}


@pytest.mark.parametrize("text", ["0", "-1", "1e400", "9" * 30, "９", "1.5", "nan", "inf"])
def test_positive_counts_refuse_what_is_no_count(text):
    with pytest.raises(argparse.ArgumentTypeError):
        options.positive(text)


def test_positive_counts_still_take_the_usual_spellings():
    assert options.positive("2e9") == options.positive("2_000_000_000") == 2_000_000_000


@pytest.mark.parametrize("flag,value", [("--max-activation", "0"), ("--max-activation", "0GiB"),
                                        ("--max-params", "1e400"), ("--max-depth", "０"),
                                        ("--max-spec-bytes", "0")])
def test_limit_flags_refuse_zero_and_huge_values(flag, value):
    rc, err = run_cli("check", "resnet18", flag, value)
    assert rc == 2 and flag in err


@pytest.mark.parametrize("parse,text", [(options.integer, "9" * 19), (options.integer, "３"),
                                        (options.finite, "nan"), (options.finite, "1e999"),
                                        (options.finite, "-inf")])
def test_seed_steps_and_lr_flags_are_bounded(parse, text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)
    assert options.integer("42") == 42 and options.finite("0.1") == 0.1


# ---- nesting and numbers in specs -------------------------------------------------------

def test_nesting_is_refused_before_lark(monkeypatch):
    from archdsl.lang import parser
    monkeypatch.setattr(parser, "_lark", lambda: pytest.fail("lark was called"))
    text = SMALL.replace("3×3, 8", "[" * 5000 + "3×3, 8" + "]" * 5000)
    with pytest.raises(ArchError, match="nested more than 32 deep") as e:
        parser.parse(text, "deep.arch")
    assert (e.value.span.line, e.value.span.col) == (4, 12 + 32)   # the 33rd '['


def test_long_digit_runs_in_comments_are_not_numbers():
    g = archdsl.load(SMALL + "# " + "9" * 40 + "\n")
    assert g.num_classes == 4


def test_every_number_of_18_digits_is_a_number():
    with pytest.raises(ArchError, match="parameters, over the limit"):   # not "too large"
        archdsl.load(SMALL.replace("3×3, 8", "3×3, " + "9" * 18))


# ---- ir.yaml ----------------------------------------------------------------------------

def _ir_text(**fields) -> str:
    doc = yaml.safe_load(graph_to_yaml(archdsl.load(SMALL)))
    doc.update(fields)
    return yaml.safe_dump(doc)


def test_recursive_anchor_is_refused():
    text = _ir_text() + "extra: &a [*a]\n"
    with pytest.raises(ArchError, match="aliases") as e:
        graph_from_yaml(text, "ir.yaml")
    assert e.value.span.line == text.count("\n")


def test_alias_bomb_is_refused_before_it_expands():
    """Nine levels of nine aliases: 387 million strings if composed. Refused at the first
    alias, without building anything (a test that hung here would be the bug)."""
    bomb = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = "format: archdsl-ir\nversion: 1\n" + "\n".join(bomb) + "\n"
    with pytest.raises(ArchError, match="aliases"):
        graph_from_yaml(text, "bomb.yaml")


@pytest.mark.parametrize("value,message", [("10", "positive integer"), (4.5, "positive integer"),
                                           (True, "positive integer"), (7, "classifier"),
                                           (None, "positive integer")])
def test_ir_num_classes_has_its_type_and_agrees_with_the_classifier(value, message):
    with pytest.raises(ArchError, match=message):
        graph_from_yaml(_ir_text(num_classes=value), "ir.yaml")
    assert graph_from_yaml(_ir_text(), "ir.yaml").num_classes == 4


# ---- spec files that are not spec files -------------------------------------------------

@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_from_stat(path):
    if not os.path.exists(path):
        pytest.skip(f"no {path}")
    with pytest.raises(ArchError, match="it is a device"):
        archdsl.load(path)


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "spec.arch"
    os.mkfifo(fifo)
    result: list = []
    t = threading.Thread(target=lambda: result.append(pytest.raises(ArchError, archdsl.load, str(fifo))),
                         daemon=True)
    t.start()
    t.join(30)   # an open() of a FIFO with no writer would block here for good
    assert result and "FIFO" in str(result[0].value)


def test_directories_and_oversize_specs_are_refused(tmp_path):
    with pytest.raises(ArchError, match="directory"):
        archdsl.load(str(tmp_path) + os.sep)
    spec = tmp_path / "s.arch"
    spec.write_text(SMALL)
    with pytest.raises(ArchError, match=r"over the 20-byte limit") as e:
        archdsl.load(str(spec), limits=Limits(max_spec_bytes=20))
    assert "--max-spec-bytes" in e.value.hint
    assert archdsl.load(str(spec)).name == "small"
    rc, err = run_cli("check", str(spec), "--max-spec-bytes", "64")
    assert rc == 2 and "64-byte limit" in err


# ---- output errors and locks ------------------------------------------------------------

def test_output_errors_are_one_line(tmp_path):
    spec = tmp_path / "s.arch"
    spec.write_text(SMALL)
    (tmp_path / "afile").write_text("x")
    rc, err = run_cli("build", str(spec), "-o", str(tmp_path / "afile"))
    assert rc == 2 and "cannot write" in err and "names a directory" in err
    rc, err = run_cli("build", str(spec), "-o", str(tmp_path / ("n" * 300)))
    assert rc == 2 and "shorter path" in err


@pytest.mark.parametrize("code,hint", [(errno.EROFS, "read-only"), (errno.ENOSPC, "disk is full")])
def test_read_only_and_full_file_systems_are_one_line(code, hint, tmp_path, monkeypatch):
    from archdsl.cli import build_cmd

    def refuse(files):
        raise OSError(code, os.strerror(code), str(next(iter(files))))
    monkeypatch.setattr(build_cmd, "write_texts", refuse)
    spec = tmp_path / "s.arch"
    spec.write_text(SMALL)
    rc, err = run_cli("build", str(spec), "-o", str(tmp_path / "out"))
    assert rc == 2 and hint in err and len(err.strip().splitlines()) == 2


def test_a_second_build_into_a_held_directory_is_refused(tmp_path):
    spec = tmp_path / "s.arch"
    spec.write_text(SMALL)
    out = tmp_path / "out"
    with locked_dir(out, "build"):
        with pytest.raises(ArchError, match="in use by another archdsl build"):
            run_build(spec, out)
        assert not (out / "model.py").exists()
    assert run_build(spec, out) == 0   # released: no stale lock, no lock file left behind
    assert sorted(p.name for p in out.iterdir()) == ["ir.yaml", "model.py", "report.json"]


def test_a_failed_run_leaves_no_empty_directory(tmp_path):
    with pytest.raises(RuntimeError):
        with locked_dir(tmp_path / "new", "train run"):
            raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()


# ---- error reporting --------------------------------------------------------------------

def test_many_errors_split_the_source_once_and_are_capped(monkeypatch):
    rows = "".join(f"3×3, 8, frobnicate{i}\n" for i in range(300))
    text = "network e\ninput 3×8×8\nclasses 4\nconv1 8×8:\n" + rows + "head: average pool, fc-4\n"
    calls = []
    real = errmod.split_lines
    monkeypatch.setattr(errmod, "split_lines", lambda t: calls.append(1) or real(t))
    with pytest.raises(ArchErrors) as e:
        archdsl.load(text)
    calls.clear()
    out = e.value.render()
    assert len(calls) == 1
    assert out.count("error:") == errmod.MAX_SHOWN == 50
    assert out.rstrip().endswith("… and 250 more errors\n300 errors")


def test_a_single_error_still_renders_its_line():
    e = ArchError("bad", Span("f", 2, 3, 2, 5), source="a\nbcdef\n")
    assert e.render() == "f:2:3: error: bad\n  bcdef\n    ^^"


# ---- stride inference -------------------------------------------------------------------

@pytest.mark.parametrize("size,declared", [(33, 17), (15, 8), (32, 16), (7, 4)])
def test_stride_is_inferred_with_ceil(size, declared):
    text = (f"network s\ninput 3×{size}×{size}\nclasses 4\nconv1 {size}×{size}: 3×3, 8\n"
            f"conv2 {declared}×{declared}: [3×3, 8; 3×3, 8]\nhead: average pool, fc-4\n")
    g = archdsl.load(text)
    conv2 = [n for n in g.nodes if n.stage == "conv2" and len(n.shape) == 3]
    assert conv2[-1].shape[1:] == (declared, declared)
    assert conv2[0].get("stride") == (2, 2)


def test_checking_stops_after_max_errors():
    rows = "".join(f"3×3, 8, frobnicate{i}\n" for i in range(errmod.MAX_ERRORS + 5))
    text = "network e\ninput 3×8×8\nclasses 4\nconv1 8×8:\n" + rows + "head: average pool, fc-4\n"
    with pytest.raises(ArchErrors) as e:
        archdsl.load(text)
    assert e.value.stopped and len(e.value.errors) == errmod.MAX_ERRORS
    out = e.value.render()
    assert "checking stopped after 1,000 errors: fix these first" in out
    assert out.endswith("1,000 errors+")


def test_a_long_source_line_is_shown_around_the_caret():
    line = "x" * 1000 + "BAD" + "y" * 1000
    e = ArchError("bad", Span("f", 1, 1001, 1, 1004), source=line)
    shown, caret = e.render().splitlines()[1:3]
    assert len(shown) < 200 and shown.strip().startswith("…") and shown.endswith("…")
    assert shown[caret.index("^"):caret.index("^") + 3] == "BAD" and caret.count("^") == 3
