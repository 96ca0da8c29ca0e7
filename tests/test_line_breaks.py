"""Only ``\\n`` ends a line (as the grammar counts): form feeds, NEL, U+2028 … inside a line or
a comment must not shift error positions, carets or ``fmt``'s comment placement."""
import pytest

import archdsl
from archdsl.errors import ArchError, split_lines
from archdsl.lang.fmt import format_spec
from test_fmt import ir_key

ODD = ["\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029"]


def test_split_lines_only_at_newline():
    assert split_lines("a\x0cb\r\nc\u2028d\n") == ["a\x0cb", "c\u2028d", ""]


@pytest.mark.parametrize("ch", ODD)
def test_error_caret_stays_on_its_line(ch):
    text = f"input 3×32×32  # odd{ch}break\nconv1: conv3-16\nconv2: frob\n"
    with pytest.raises(ArchError) as e:
        archdsl.load(text)
    assert (e.value.span.line, e.value.span.col) == (3, 8)
    rendered = e.value.render().splitlines()
    i = next(k for k, l in enumerate(rendered) if "error:" in l)
    assert rendered[i + 1] == "  conv2: frob"


@pytest.mark.parametrize("ch", ODD)
def test_unclosed_bracket_points_at_the_bracket(ch):
    text = f"input 3×32×32  # {ch}\nconv1: [3×3, 16; 3×3, 16\nhead: average pool, fc-10\n"
    with pytest.raises(ArchError) as e:
        archdsl.load(text)
    assert "unclosed '['" in e.value.message
    assert (e.value.span.line, e.value.span.col) == (2, 8)


@pytest.mark.parametrize("ch", ODD)
def test_fmt_keeps_comments_in_place(ch):
    text = (f"network odd\ninput 3×32×32\n# first{ch}comment\nconv1 32×32: 3×3,16\n"
            f"# second\nhead: average pool, fc-10\n")
    out = format_spec(text, "odd.arch")
    lines = out.split("\n")
    assert f"# first{ch}comment" in lines and "# second" in lines
    assert lines.index(f"# first{ch}comment") < lines.index("conv1 32×32: 3×3, 16") \
        < lines.index("# second")
    assert ir_key(archdsl.load(out)) == ir_key(archdsl.load(text))
    assert format_spec(out) == out
