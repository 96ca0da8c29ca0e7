"""Fuzzing the front end: whatever the text, ``parse`` + ``build`` either succeed or raise
:class:`ArchError` (located, renderable). Nothing else may escape.

Inputs: random Unicode, token sequences drawn from the grammar's own terminals (read from the
Lark parser, so the fuzzer follows the grammar) and the layer vocabulary, a valid prefix
followed by token soup, mutations of every bundled spec, and random ``-D`` overrides:
2,800 examples per run.
"""
import re

from hypothesis import HealthCheck, given, settings, strategies as st

from archdsl.builder.build import build
from archdsl.errors import ArchError, ArchErrors
from archdsl.builder.modifiers import MODIFIERS
from archdsl.lang.parser import _lark, parse
from archdsl.builder.settings import _KEYS as SETTING_WORDS
from archdsl.builder.words import VOCABULARY
from conftest import SPECS

TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SPECS}
# No deadline: a wall-clock limit flakes on a loaded machine (timings belong in benchmarks/).
FUZZ = settings(deadline=None, max_examples=500, suppress_health_check=list(HealthCheck))


def compile_text(text: str, params=None) -> None:
    try:
        g = build(parse(text, "fuzz.arch"), params or {})
    except ArchError as e:
        rendered = e.render()
        assert "error:" in rendered
        for err in (e.errors if isinstance(e, ArchErrors) else (e,)):
            assert err.message
            if err.span is not None and err.span.file == "fuzz.arch":
                assert err.span.line >= 1 and err.span.col >= 1
                assert err.span.line <= text.count("\n") + 2
        return
    assert g.nodes and g.output_shape


ALPHABET = st.sampled_from(list("abcdefgxXz×*0123456789 ,;:[]()=-_.#\n\t")
                           + ["conv3-64", "FC-4096", "3×3", "64", " ×2", " x 2", "3x3",
                              "max pool", "stride 2", "padding 1", "groups 2", "[", "]", "\n",
                              "network n\n", "input 3×32×32\n", "classes 10\n", "with shortcut A\n",
                              "block b(c) = ", "param n = 3\n", "alias m: n = 2\n", "1000-d fc",
                              "average pool", "soft-max", "LRN(k=2)", "dropout 0.5", "é", "\u00a0",
                              "\ufeff", "→", "\r\n", "\\\n"])


_LOOKAROUND = re.compile(r"\(\?<?[!=]\[[^\]]*\]\)")   # (?<![\w.]) etc.: from_regex can't


def grammar_tokens():
    """One strategy per terminal of the grammar: keywords and punctuation as written, regex
    terminals (DIMS, NUMBER, REPEAT, NAME, comments, ...) as strings their pattern matches."""
    out = []
    for term in _lark().terminals:
        if term.pattern.type == "str":
            out.append(st.just(term.pattern.value))
        else:
            out.append(st.from_regex(_LOOKAROUND.sub("", term.pattern.to_regexp()),
                                     fullmatch=True).filter(lambda t: len(t) < 40))
    return out


GRAMMAR_TOKEN = st.one_of(*grammar_tokens(),
                          st.sampled_from(VOCABULARY + sorted(MODIFIERS) + SETTING_WORDS
                                          + ["×", "x", "-", "\n", "conv3-64", "FC-4096", "A", "B",
                                             "C", "plain", "he", "normal", "on", "1×1", "3×3"]))
SEPARATOR = st.sampled_from(["", " ", " ", "\n", ", "])


@settings(deadline=None, max_examples=500, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(GRAMMAR_TOKEN, SEPARATOR), max_size=50))
def test_grammar_token_sequences(pairs):
    compile_text("".join(tok + sep for tok, sep in pairs))


def test_grammar_vocabulary_covers_every_terminal():
    """The token strategy above really is generated from the grammar: one per terminal."""
    names = {t.name for t in _lark().terminals}
    assert {"DIMS", "REPEAT", "NAME", "NUMBER", "FCDIM", "NETWORK", "BLOCK", "LSQB"} <= names
    assert len(grammar_tokens()) == len(names)


@FUZZ
@given(st.text(max_size=200))
def test_random_unicode_text(text):
    compile_text(text)


@FUZZ
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_random_token_soup(text):
    compile_text(text)


@FUZZ
@given(st.lists(ALPHABET, max_size=30).map("".join))
def test_valid_prefix_then_soup(tail):
    compile_text("network f\ninput 3×32×32\nclasses 10\nconv1 32×32: " + tail)


TOKEN = re.compile(r"\s+|[\[\](),;:=*]|[^\s\[\](),;:=*]+")


def tokens(text):
    return TOKEN.findall(text)


@st.composite
def mutated_spec(draw):
    name = draw(st.sampled_from(sorted(TEXTS)))
    text = TEXTS[name]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["del_tok", "dup_tok", "swap_tok", "del_chr", "dup_chr",
                                     "swap_chr", "number", "insert"]))
        if kind.endswith("_tok"):
            toks = tokens(text)
            if len(toks) < 2:
                continue
            i = draw(st.integers(0, len(toks) - 1))
            if kind == "del_tok":
                del toks[i]
            elif kind == "dup_tok":
                toks.insert(i, toks[i])
            else:
                j = draw(st.integers(0, len(toks) - 1))
                toks[i], toks[j] = toks[j], toks[i]
            text = "".join(toks)
        elif kind == "number":
            nums = list(re.finditer(r"\d+(?:\.\d+)?", text))
            if not nums:
                continue
            m = draw(st.sampled_from(nums))
            new = draw(st.sampled_from(["0", "1", "2", "3", "7", "13", "999999", "0.5", "1e9",
                                        "-1", "00", str(int(float(m[0])) + 1)]))
            text = text[:m.start()] + new + text[m.end():]
        elif len(text) > 1:
            i = draw(st.integers(0, len(text) - 1))
            if kind == "del_chr":
                text = text[:i] + text[i + 1:]
            elif kind == "dup_chr":
                text = text[:i] + text[i] + text[i:]
            elif kind == "swap_chr":
                j = draw(st.integers(0, len(text) - 1))
                a, b = sorted((i, j))
                if a != b:
                    text = text[:a] + text[b] + text[a + 1:b] + text[a] + text[b + 1:]
            else:
                text = text[:i] + draw(ALPHABET) + text[i:]
    return text


@FUZZ
@given(mutated_spec())
def test_mutated_specs(text):
    compile_text(text)


@settings(deadline=None, max_examples=300, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(TEXTS)), st.dictionaries(
    st.sampled_from(["n", "depths", "classes", "width", "c"]),
    st.one_of(st.integers(-3, 300), st.just(0), st.floats(allow_nan=True),
              st.lists(st.integers(-1, 40), max_size=5), st.text(max_size=4)), max_size=2))
def test_random_overrides(name, params):
    compile_text(TEXTS[name], params)


def test_every_spec_compiles_unmutated():
    """The mutation tests start from valid text: the harness itself accepts every spec."""
    for name, text in TEXTS.items():
        g = build(parse(text, name), {})
        assert g.depth > 0


# ---- hostile inputs (issue 16): huge numbers, deep nesting, reserved names ----------------
from archdsl.ir.names import RESERVED  # noqa: E402

HUGE = st.one_of(st.integers(10 ** 18, 10 ** 400).map(str), st.integers(19, 5000).map(lambda n: "9" * n),
                 st.sampled_from(["1e19", "1e30", "9" * 18, "1e308", "1e400"]))
ROW = "network f\ninput 3×32×32\nclasses 10\nparam n = 3\n{stage} 32×32: {row}\nhead: average pool, fc-10\n"


@st.composite
def hostile_spec(draw):
    """A valid small spec with one hostile piece: a huge number in any numeric slot, brackets
    nested up to 3,000 deep, or a stage named after an nn.Module attribute or keyword."""
    kind = draw(st.sampled_from(["number", "nesting", "reserved"]))
    if kind == "number":
        big = draw(HUGE)
        row = draw(st.sampled_from(["3×3, {}", "3×3, 16 ×{}", "3×3, 16, stride {}", "{}×{}, 16",
                                    "[3×3, 16] ×{}", "3×3, n*{}", "3×3, 16, padding {}"]))
        return ROW.format(stage="conv1", row=row.format(big, big))
    if kind == "nesting":
        depth = draw(st.integers(1, 3000))
        return ROW.format(stage="conv1", row="[" * depth + "3×3, 16" + "]" * depth)
    name = draw(st.sampled_from(sorted(RESERVED) + ["__init__", "_parameters", "class", "lambda"]))
    return ROW.format(stage=name, row="3×3, 16")


@settings(deadline=None, max_examples=150, suppress_health_check=list(HealthCheck))
@given(hostile_spec())
def test_hostile_specs_fail_cleanly(text):
    """Huge numbers, deep nesting and reserved names end in ArchError (or, for nesting within
    the limit, a network): never OverflowError, ValueError, RecursionError or a KeyError."""
    compile_text(text)


@settings(deadline=None, max_examples=60, suppress_health_check=list(HealthCheck))
@given(hostile_spec().filter(lambda t: "[" * 33 not in t))
def test_hostile_specs_over_a_limit_are_refused(text):
    """Every hostile spec but nesting within the limit is refused, with a located error."""
    from hypothesis import assume
    big = re.search(r"[0-9]{19}|e(19|30|308|400)\b", text)
    stage = text.split("\n")[4].split(" ")[0]
    assume(big or stage in RESERVED or stage.startswith("_") or stage in ("class", "lambda"))
    try:
        build(parse(text, "fuzz.arch"))
    except ArchError as e:
        assert e.span is not None and e.span.line in (5, 4)
        return
    raise AssertionError("accepted: " + text)
