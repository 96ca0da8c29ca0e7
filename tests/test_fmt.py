"""archdsl fmt: canonical spec text; idempotent; never changes the IR; CLI --check/--in-place."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archdsl
from archdsl.cli.main import main
from archdsl.errors import ArchError
from archdsl.lang.fmt import format_spec
from conftest import SPECS as SPEC_PATHS

SPECS = [str(p) for p in SPEC_PATHS]


def ir_key(g):
    """Everything a graph means, spans and file names left out."""
    return (g.name, g.input_shape, g.num_classes, g.params, g.settings,
            tuple((s.name, s.declared, s.nodes) for s in g.stages),
            tuple((n.name, n.op, n.inputs, n.attrs, n.shape, n.stage, n.block, n.role) for n in g.nodes))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("path", SPECS, ids=os.path.basename)
def test_every_spec_formats_idempotently_to_the_same_ir(path):
    text = read(path)
    once = format_spec(text)
    assert format_spec(once) == once
    assert ir_key(archdsl.load(once)) == ir_key(archdsl.load(text))
    # comments survive
    assert [l for l in text.splitlines() if l.lstrip().startswith("#")] == \
        [l for l in once.splitlines() if l.lstrip().startswith("#")]


def test_canonical_layout():
    messy = ("NETWORK  tiny\n\n\n# a comment\ninput 3x32x32\nclasses 10   # ten\n"
             "WITH batchnorm ,shortcut A\nconv1 32x32 :  3x3,16\n"
             "stage2  16x16:[3x3 ,32 ;\n  3x3,32] x2\n   1x1: average pool,10-D fc\n")
    out = format_spec(messy)
    assert out == ("network tiny\n\n# a comment\ninput 3×32×32\nclasses 10  # ten\n"
                   "with batchnorm, shortcut A\n"
                   "conv1  32×32: 3×3, 16\n"
                   "stage2 16×16: [3×3, 32; 3×3, 32] ×2\n"
                   "         1×1: average pool, 10-d fc\n")
    assert ir_key(archdsl.load(out)) == ir_key(archdsl.load(messy))


EDGE = """# head
network t   # name
input 3×32×32
classes 10
param n = 2
param w = [16, 32]
alias t2: n = 3, w = [8, 16]
with shortcut A, batchnorm
block basic(c) = [
  3×3, c   # first
  # inner
  3×3, c
]

conv1 32×32: 3×3, w[0]
  with shortcut B
conv2 16×16: basic(w[1]) × n
  basic(64) x1 \\
     , 3×3, 64
1×1: average pool, 10-d fc
# tail
"""


@pytest.mark.parametrize("alias", [None, "t2"])
def test_edge_constructs_keep_their_meaning(alias):
    from archdsl.builder.build import build
    out = format_spec(EDGE)
    assert format_spec(out) == out
    assert "block basic(c) = [3×3, c; 3×3, c]  # first # inner\n" in out
    assert "conv2 16×16: basic(w[1]) ×n\n" in out and "             with shortcut B\n" in out
    assert out.startswith("# head\nnetwork t  # name\n") and out.endswith("\n# tail\n")
    assert ir_key(build(archdsl.parse(out), None, alias)) == ir_key(build(archdsl.parse(EDGE), None, alias))


def test_format_accepts_an_ast():
    text = read(SPECS[0])
    assert format_spec(archdsl.parse(text)) == format_spec(text)


def test_syntax_error_is_an_arch_error():
    with pytest.raises(ArchError):
        format_spec("network x\nconv1 32×32: [3×3, 16\n")


# ---- generated networks ----------------------------------------------------------------
@st.composite
def networks(draw):
    """Small valid networks, written with random spacing, ASCII/× spellings and comments."""
    x = lambda: draw(st.sampled_from(["×", "x"]))
    sp = lambda: draw(st.sampled_from(["", " ", "   "]))
    size = draw(st.sampled_from([8, 16, 32]))
    classes = draw(st.integers(2, 20))
    lines = [f"network gen{draw(st.integers(0, 99))}", f"input 3{x()}{size}{x()}{size}",
             f"classes {classes}"]
    opts = draw(st.lists(st.sampled_from(["batchnorm", "relu after add"]), unique=True))
    lines.append("with shortcut " + draw(st.sampled_from("AB")) + "".join(", " + o for o in opts))
    use_param = draw(st.booleans())
    if use_param:
        lines.append(f"param n = {draw(st.integers(1, 2))}")
        lines.append(f"alias gen-deep: n = 3")
    use_block = draw(st.booleans())
    if use_block:
        lines.append("block basic(c) = [3×3, c;" + sp() + "3×3, c]")
    ch = 3
    for i in range(draw(st.integers(1, 3))):
        rows = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["conv", "pool", "block"]))
            c = draw(st.sampled_from([4, 8, 16]))
            if kind == "pool" and size >= 4:
                rows.append(f"3{x()}3 max pool,{sp()}stride 2")
                size = (size + 1) // 2
            elif kind == "block" and ch > 3:
                c = draw(st.sampled_from([w for w in (4, 8, 16) if w >= ch]))  # option A can't shrink
                r = draw(st.sampled_from(["1", "2"] + (["n"] if use_param else [])))
                body = f"basic({c})" if use_block else f"[3{x()}3, {c};{sp()}3{x()}3, {c}]"
                times = draw(st.sampled_from(["×", "x", "× "]))
                times += " " if times == "x" and r == "n" else ""  # "xn" would be a word
                rows.append(f"{body} {times}{r}")
                ch = c
            else:
                rows.append(f"3{x()}3,{sp()}{c}")
                ch = c
            if draw(st.booleans()):
                rows[-1] += "  # note"
        if draw(st.booleans()):
            lines.append("# stage comment")
        lines.append(f"s{i}{sp()}:{sp()}" + rows[0])
        lines += ["      " + r for r in rows[1:]]
        if draw(st.booleans()):
            lines.append("  with shortcut B")      # a stage-level setting
    lines.append(f"head: average pool, {classes}-d fc")
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_generated_specs_format_idempotently_to_the_same_ir(text):
    g = archdsl.load(text)
    once = format_spec(text)
    assert format_spec(once) == once
    assert ir_key(archdsl.load(once)) == ir_key(g)
    assert once.count("#") == text.count("#")


# ---- CLI ---------------------------------------------------------------------------------
def test_cli_check_and_in_place(tmp_path, capsys):
    p = tmp_path / "a.arch"
    p.write_text("network a\ninput 3x8x8\nclasses 2\n# keep\nconv1 8x8: 3x3,4\nhead: average pool, 2-d fc\n")
    assert main(["fmt", "--check", str(p)]) == 1
    before = p.read_text()
    assert main(["fmt", str(p)]) == 0
    assert capsys.readouterr().out == format_spec(before)
    assert p.read_text() == before                     # printing never writes
    assert main(["fmt", "--in-place", str(p)]) == 0
    assert p.read_text() == format_spec(before)
    assert "# keep" in p.read_text()
    assert main(["fmt", "--check", str(p)]) == 0
    assert [f.name for f in tmp_path.iterdir()] == ["a.arch"]   # no temp file left behind


def test_cli_spec_error_exits_2(tmp_path, capsys):
    p = tmp_path / "bad.arch"
    p.write_text("network bad\nconv1: [3×3, 4\n")
    assert main(["fmt", "--check", str(p)]) == 2
    assert main(["fmt", "--in-place", str(p)]) == 2
    assert p.read_text() == "network bad\nconv1: [3×3, 4\n"
    assert "unclosed" in capsys.readouterr().err


def test_fmt_does_not_import_torch():
    code = ("import sys, archdsl.lang.fmt, archdsl.analysis.table, archdsl.cli.table_cmd; "
            "archdsl.lang.fmt.format_spec(open(sys.argv[1]).read()); "
            "archdsl.analysis.table.render_table([archdsl.load(sys.argv[1])]); "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code, SPECS[0]], check=True)


def test_cli_formats_a_bundled_name(capsys):
    assert main(["fmt", "resnet18"]) == 0
    assert capsys.readouterr().out == format_spec(read(SPECS[SPECS.index(next(
        p for p in SPECS if p.endswith("/resnet18.arch")))]))
