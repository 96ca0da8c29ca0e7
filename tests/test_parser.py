"""The surface syntax: the papers' notations parse into the AST the builder expects, with
exact spans; the examples in docs/language.md are valid."""
import re

import pytest

import archdsl
from archdsl.lang import syntax as ast
from archdsl.errors import ArchError
from archdsl.lang.parser import parse
from conftest import ROOT


def stages(text):
    return [s for s in parse(text, "t.arch").statements if isinstance(s, ast.Stage)]


def row_parts(line):
    """The parts of the single row in ``s: LINE``."""
    (st,) = stages(f"s: {line}\n")
    (row,) = st.body
    return row.parts


def words(part):
    return [a.text for a in part.atoms if isinstance(a, ast.Word)]


# ---- header lines -----------------------------------------------------------------------
def test_header_statements():
    spec = parse("network resnet50\ninput 3×224×224\nclasses 1000\nparam depths = [3, 4, 6, 3]\n"
                 "alias resnet101: depths = [3, 4, 23, 3]\nwith shortcut B, batchnorm\n"
                 "block b(c) = [1×1, c; 3×3, c; 1×1, 4*c]\n", "t.arch")
    kinds = [type(s).__name__ for s in spec.statements]
    assert kinds == ["Network", "Input", "Classes", "Param", "Alias", "With", "BlockDef"]
    net, inp, cls, prm, ali, wth, blk = spec.statements
    assert net.name == "resnet50" and inp.dims.values == (3, 224, 224)
    assert cls.value.value == 1000
    assert prm.name == "depths" and [n.value for n in prm.value.items] == [3, 4, 6, 3]
    assert ali.name == "resnet101" and ali.bindings[0][0] == "depths"
    assert len(wth.parts) == 2
    assert blk.name == "b" and blk.params == ("c",) and len(blk.body.entries) == 3
    assert isinstance(blk.body.entries[2][1].atoms[0], ast.Product)


def test_keywords_case_insensitive():
    spec = parse("NETWORK x\nInput 3x8x8\nCLASSES 3\n", "t.arch")
    assert [type(s).__name__ for s in spec.statements] == ["Network", "Input", "Classes"]


def test_stage_header_name_and_size():
    st = stages("conv1   112×112: 7×7, 64, stride 2\nconv2_x 56×56:\n  3×3 max pool, stride 2\n"
                "        1×1:   average pool, 1000-d fc, softmax\n")
    assert [s.name.text if s.name else None for s in st] == ["conv1", "conv2_x", None]
    assert [s.size.values for s in st] == [(112, 112), (56, 56), (1, 1)]
    assert len(st[1].body) == 1   # the row under a header with nothing after ':'
    head = st[2].body[0].parts
    assert isinstance(head[1].atoms[0], ast.FcDim) and head[1].atoms[0].value == 1000


# ---- VGG ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["conv3-64", "conv1-256", "Conv3-64", "FC-4096", "fc-4096",
                                  "FC-1000", "soft-max", "maxpool", "MAXPOOL", "LRN"])
def test_vgg_words_are_single_words(text):
    (p,) = row_parts(text)
    assert words(p) == [text] and p.repeat is None


@pytest.mark.parametrize("rep", ["×2", "× 2", "x2", "x 2", "X2"])
def test_repeat_spellings(rep):
    (p,) = row_parts(f"conv3-64 {rep}")
    assert words(p) == ["conv3-64"]
    assert isinstance(p.repeat, ast.Num) and p.repeat.value == 2


def test_repeat_by_name_and_index():
    (p,) = row_parts("[3×3, 16; 3×3, 16] ×n")
    assert isinstance(p.repeat, ast.Word) and p.repeat.text == "n"
    (p,) = row_parts("bottleneck(64) ×depths[0]")
    assert isinstance(p.repeat, ast.Index) and (p.repeat.name, p.repeat.index) == ("depths", 0)
    (p,) = row_parts("bottleneck(64) x depths[3]")
    assert isinstance(p.repeat, ast.Index) and p.repeat.index == 3


def test_x_inside_words_is_not_a_repeat():
    (p,) = row_parts("conv2_x")
    assert p.repeat is None and words(p) == ["conv2_x"]
    parts = row_parts("3×3, 64, init xavier")
    assert parts[-1].repeat is None and words(parts[-1]) == ["init", "xavier"]


# ---- ResNet -------------------------------------------------------------------------------
def test_resnet_conv_row():
    parts = row_parts("7×7, 64, stride 2")
    assert isinstance(parts[0].atoms[0], ast.Dims) and parts[0].atoms[0].values == (7, 7)
    assert parts[1].atoms[0].value == 64
    assert words(parts[2]) == ["stride"] and parts[2].atoms[1].value == 2


@pytest.mark.parametrize("text", ["3×3", "3x3", "3X3"])
def test_dims_spellings(text):
    (p,) = row_parts(text)
    assert p.atoms[0].values == (3, 3)


def test_max_pool_phrase():
    parts = row_parts("3×3 max pool, stride 2")
    assert parts[0].atoms[0].values == (3, 3) and words(parts[0]) == ["max", "pool"]


@pytest.mark.parametrize("text", ["[3×3, 64; 3×3, 64] ×2", "[3×3,64;3×3,64]×2", "[3x3, 64; 3x3, 64] x2"])
def test_basic_block(text):
    (p,) = row_parts(text)
    assert len(p.bracket.entries) == 2 and p.repeat.value == 2
    assert [e[0].atoms[0].values for e in p.bracket.entries] == [(3, 3), (3, 3)]


def test_bottleneck_without_spaces():
    (p,) = row_parts("[1×1,64;3×3,64;1×1,256]×3")
    assert [e[1].atoms[0].value for e in p.bracket.entries] == [64, 64, 256]
    assert p.repeat.value == 3


def test_bracket_over_lines():
    (st,) = stages("s: [1×1, 64\n    3×3, 64\n    1×1, 256] ×3\n")
    (p,) = st.body[0].parts
    assert len(p.bracket.entries) == 3


def test_resnet_head_phrase():
    parts = row_parts("average pool, 1000-d fc, softmax")
    assert words(parts[0]) == ["average", "pool"]
    assert parts[1].atoms[0].value == 1000 and words(parts[1]) == ["fc"]
    assert words(parts[2]) == ["softmax"]


# ---- AlexNet ------------------------------------------------------------------------------
def test_alexnet_rows():
    parts = row_parts("11×11, 96, stride 4")
    assert parts[0].atoms[0].values == (11, 11) and parts[2].atoms[1].value == 4
    parts = row_parts("5×5×48, 256")
    assert parts[0].atoms[0].values == (5, 5, 48) and parts[1].atoms[0].value == 256
    parts = row_parts("5×5, 256, groups 2")
    assert words(parts[2]) == ["groups"]


def test_lrn_arguments():
    (p,) = row_parts("LRN(k=2, n=5, alpha=1e-4, beta=0.75)")
    assert [(a.name, a.value.value) for a in p.args] == [("k", 2), ("n", 5), ("alpha", 1e-4),
                                                        ("beta", 0.75)]


def test_dropout():
    (p,) = row_parts("dropout 0.5")
    assert words(p) == ["dropout"] and p.atoms[1].value == 0.5


# ---- comments, continuation, spans ----------------------------------------------------------
def test_comments_and_blank_lines():
    text = "# head comment\n\nnetwork x   # trailing\n\n\ninput 3×8×8\n# between\ns: 3×3, 4 # end\n"
    spec = parse(text, "t.arch")
    assert [type(s).__name__ for s in spec.statements] == ["Network", "Input", "Stage"]


def test_line_continuation():
    (st,) = stages("s: 3×3, 64, \\\n   stride 2\n")
    assert len(st.body) == 1 and len(st.body[0].parts) == 3


def test_no_trailing_newline_and_crlf():
    assert len(stages("s: 3×3, 4")) == 1
    assert len(stages("network x\r\ns: 3×3, 4\r\n")) == 1


def test_spans_are_exact():
    (st,) = stages("\nconv1  112×112: 7×7, 64, stride 2\n")
    assert (st.name.span.line, st.name.span.col) == (2, 1)
    assert (st.size.span.line, st.size.span.col, st.size.span.end_col) == (2, 8, 15)
    parts = st.body[0].parts
    assert [(p.span.line, p.span.col) for p in parts] == [(2, 17), (2, 22), (2, 26)]
    assert parts[2].span.end_col == 34


def test_spans_in_brackets():
    (p,) = stages("s: [1×1, 64;\n    3×3, 64]\n")[0].body[0].parts
    e2 = p.bracket.entries[1][0]
    assert (e2.span.line, e2.span.col) == (2, 5)


# ---- syntax errors ------------------------------------------------------------------------
@pytest.mark.parametrize("text,pos,msg", [
    ("s: [3×3, 4\n", (1, 4), "unclosed '['"),
    ("s: 3×3, 4]\n", (1, 10), "unmatched ']'"),
    ("s: LRN(k=2\n", (1, 11), "unclosed '('"),
    ("s: 3×3, 4 {\n", (1, 11), "unexpected character '{'"),
    ("network\n", (1, 8), "unexpected"),
])
def test_syntax_errors_located(text, pos, msg):
    with pytest.raises(ArchError) as info:
        parse(text, "t.arch")
    e = info.value
    assert (e.span.line, e.span.col) == pos and msg in e.message
    assert "t.arch:%d:%d: error:" % pos in e.render()


def test_nul_bytes_are_an_error():
    with pytest.raises(ArchError, match="NUL"):
        parse("network x\n\x00\n", "t.arch")


# ---- docs/language.md ---------------------------------------------------------------------
DOC = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```arch\n(.*?)```", DOC, re.S)


def test_doc_has_examples():
    assert len(BLOCKS) >= 10
    assert sum(1 for b in BLOCKS if re.search(r"^input ", b, re.M)) >= 4


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_doc_example(i):
    block = BLOCKS[i]
    spec = parse(block, f"language.md#{i}")
    assert spec.statements
    if re.search(r"^input ", block, re.M):
        g = archdsl.load(block)
        assert g.nodes
    else:   # a fragment: rows shown side by side; each row builds on some typical input
        lines = block.splitlines()
        for st in (s for s in spec.statements if isinstance(s, ast.Stage)):
            rows = "\n".join(lines[st.span.line - 1: st.body[-1].span.end_line])
            errors = []
            for shape in FRAGMENT_INPUTS:
                try:
                    archdsl.load(f"network frag\ninput {shape}\n{rows}\n")
                    break
                except ArchError as e:
                    errors.append(e.render())
            else:
                pytest.fail(f"{rows!r} builds on none of {FRAGMENT_INPUTS}: {errors[0]}")


FRAGMENT_INPUTS = ["3×224×224", "3×227×227", "64×56×56", "96×27×27", "4096×1×1", "512×7×7"]


def test_doc_mentions_every_vocabulary_word():
    from archdsl.builder.words import VOCABULARY
    from archdsl.builder.settings import SHORTCUTS
    for w in VOCABULARY:
        assert w.lower() in DOC.lower(), w
    for s in ("A", "B", "C", "plain"):
        assert f"shortcut {s}" in DOC or f"`{s}`" in DOC
    assert SHORTCUTS
