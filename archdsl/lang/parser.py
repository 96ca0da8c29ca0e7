"""Spec text -> AST (:mod:`archdsl.lang.syntax`). Lark's exceptions become located ArchErrors."""
from __future__ import annotations

import contextlib
import gc
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import (UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken,
                             VisitError)

from archdsl.lang import syntax as ast
from archdsl.lang.grammar_cache import cached_lark
from archdsl.errors import ArchError, Span, split_lines
from archdsl.lang.titles import titled as _titled, word_before as _word_before

# Human names for lark's terminal names, used in "expected ..." messages.
_TOKEN_NAMES = {
    "NAME": "a word", "NUMBER": "a number", "DIMS": "a size like 3×3", "FCDIM": "'1000-d'",
    "REPEAT": "a repeat like ×2", "_NL": "a new line", "COMMA": "','", "COLON": "':'",
    "SEMICOLON": "';'", "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "RPAR": "')'",
    "EQUAL": "'='", "STAR": "'*'", "SLASH": "'/'", "WIDTH": "a width like 16×k",
    "$END": "the end of the file",
}

#: The most digits a number may have: every count a network needs fits in far fewer, and
#: anything bigger is refused where it is written (Python's int would take 10,000 digits and
#: fail later, in a float() or in lark's int conversion, as a traceback).
MAX_DIGITS = 18
#: Largest value a spec number may stand for (18 nines); products are held to it too.
MAX_NUMBER = 10 ** MAX_DIGITS - 1
#: How deeply ``[`` may nest. Real blocks nest 1-2 deep; lark's tree transformer recurses
#: a few frames per level, so thousands of levels would end in a RecursionError.
MAX_NESTING = 32
_BRACKETS = re.compile(r"#[^\n]*|[\[\]\n]")
_LONG_NUMBER = re.compile(r"[0-9]{%d,}" % (MAX_DIGITS + 1))


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # Cached in-process, and its tables across processes (grammar_cache): building them costs
    # ~40 ms and the grammar never changes at run time.
    return cached_lark(Path(__file__).with_name("grammar.lark"), parser="lalr",
                       propagate_positions=True, maybe_placeholders=False)


def parse(text: str, file: str = "<spec>") -> ast.Spec:
    """Parse spec ``text`` (named ``file`` in messages) into an :class:`~archdsl.lang.syntax.Spec`.

    Raises :class:`ArchError` with the position of the first syntax error.
    """
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ArchError("this is not a spec: the file contains NUL bytes (binary data?)",
                        Span(file, line, 1), hint="spec files are UTF-8 text",
                        source=text.replace("\x00", " "))
    _check_limits(text, file)
    if not text.endswith("\n"):
        text_n = text + "\n"
    else:
        text_n = text
    with paused_gc():
        try:
            tree = _lark().parse(text_n)
        except UnexpectedInput as exc:
            raise _syntax_error(exc, text, file) from None
        try:
            statements = _ToAst(file).transform(tree)
        except VisitError as exc:   # lark wraps errors raised by the transformer
            if isinstance(exc.orig_exc, ArchError):
                raise exc.orig_exc.with_source(text) from None
            raise
        return ast.Spec(tuple(_group_stages(statements, file)), file, text)


@contextlib.contextmanager
def paused_gc():
    """Pause the cyclic garbage collector while a parse or build allocates its (acyclic) trees.

    Every few hundred allocations the collector walks the young objects, and as the tree grows
    it walks it again and again: over half of a long spec's parse time (1.7 s → 0.8 s for 10k
    rows). Trees and IR have no reference cycles, so nothing is left for the collector to
    free; it runs again, as before, when the block ends."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _check_limits(text: str, file: str) -> None:
    """Refuse, before lark sees the text, numbers with more than :data:`MAX_DIGITS` digits and
    brackets nested deeper than :data:`MAX_NESTING`: both would otherwise fail inside lark
    (int conversion, recursion) as tracebacks, after the whole parse."""
    for m in _LONG_NUMBER.finditer(text):
        if "#" in text[text.rfind("\n", 0, m.start()) + 1: m.start()]:
            continue   # in a comment (or after one on its line): not a number
        line = text.count("\n", 0, m.start()) + 1
        col = m.start() - text.rfind("\n", 0, m.start())
        raise ArchError(f"number too large: {len(m[0]):,} digits", Span(file, line, col, line,
                        col + min(len(m[0]), 40)), hint=f"numbers in a spec have at most "
                        f"{MAX_DIGITS} digits", source=text)
    depth, line = 0, 1
    for m in _BRACKETS.finditer(text):
        ch = m[0]
        if ch == "\n":
            line += 1
        elif ch == "[":
            depth += 1
            if depth > MAX_NESTING:
                col = m.start() - text.rfind("\n", 0, m.start())
                raise ArchError(f"brackets nested more than {MAX_NESTING} deep", Span(
                    file, line, col, line, col + 1), hint="no network nests blocks that deeply; "
                    "name an inner block with 'block NAME = [...]'", source=text)
        elif ch == "]":
            depth = max(0, depth - 1)


def _syntax_error(exc: UnexpectedInput, text: str, file: str) -> ArchError:
    line, col = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos] if pos < len(text) else "?"
        return ArchError(f"unexpected character {ch!r}", Span(file, line, col, line, col + 1),
                         _character_hint(text, pos, ch), source=text)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        expected = getattr(exc, "expected", None) or getattr(exc, "accepts", set())
        last = split_lines(text.rstrip())
        line = len(last)
        span = Span(file, line, len(last[-1]) + 1)
        if "RSQB" in expected:
            return ArchError("unclosed '[': the block never ends", _open_bracket(text, file) or span,
                             "close the block with ']'", source=text)
        return ArchError("unexpected end of file", span, _expected_hint(expected), source=text)
    if not isinstance(exc, UnexpectedToken):   # lark raises no other kind; still say where
        line, col = max(1, getattr(exc, "line", 1)), max(1, getattr(exc, "column", 1))
        return ArchError("syntax error", Span(file, line, col), source=text)
    tok = exc.token
    expected = exc.accepts or exc.expected
    span = _tok_span(file, tok)
    shown = "end of line" if tok.type == "_NL" else repr(str(tok))
    if tok.type == "RSQB":
        return ArchError("unmatched ']'", span, "remove it, or open the block with '['", source=text)
    if tok.type == "TAG":   # -- dense / inception (#13b): ``basic (16)`` with a space
        tag = str(tok).strip()
        return ArchError(f"'{tag}' after a space numbers a stage title, as in "
                         f"'Dense Block {tag} 56×56:'", Span(file, tok.line, tok.column + 1,
                                                             tok.end_line, tok.end_column),
                         f"a block's arguments follow its name without a space: "
                         f"'{_word_before(text, tok.start_pos)}{tag}'", source=text)
    open_at = _open_bracket(text, file) if "RSQB" in expected and tok.type in ("_NL", "COLON") else None
    if open_at:
        # A block left open runs on over the next lines until something cannot be inside it.
        span = _open_bracket(text[: tok.start_pos], file) or open_at
        return ArchError("unclosed '[': the block never ends", span,
                         "close the block with ']' (entries are separated by ';')", source=text)
    if tok.type == "_NL" and "RPAR" in expected:
        return ArchError("unclosed '(': missing ')'", span, "close the arguments with ')'", source=text)
    if tok.type == "RPAR":
        return ArchError("unmatched ')'", span, "remove it, or open the arguments with '('", source=text)
    if tok.type == "COLON" and not text[: tok.start_pos].rsplit("\n", 1)[-1].strip():
        return ArchError("a stage header needs a name or an output size before ':'", span,
                         "e.g. 'conv2_x 56×56:', 'head:' or '7×7:'", source=text)
    if tok.type == "COLON":
        return ArchError("unexpected ':'", span,
                         "a stage header is a name and/or size followed by ':', e.g. 'conv2_x 56×56:'",
                         source=text)
    return ArchError(f"unexpected {shown}", span, _expected_hint(expected), source=text)


# Characters that look like ones the grammar knows (PDF copy-paste); NFKC maps the full-width ones.
_LOOK_ALIKES = {"✕": "×", "✖": "×", "⨯": "×", "⨉": "×", "∗": "*", "–": "-", "—": "-", "‐": "-",
                "‑": "-", "−": "-"}


def _character_hint(text: str, pos: int, ch: str) -> str:
    """What to write instead of the character at ``text[pos]`` that no token starts with."""
    after = text[pos + 1: pos + 2]
    if ch == "×":   # not part of a size or a repeat, so something is missing around it
        if pos > 0 and text[pos - 1].isdigit():
            return "a size like 3×3 has a number after each '×'"
        return "'×' repeats the part before it and needs a count: '×2' or '× n' (at least 1)"
    if ch == "-" and after.isdigit():
        return "numbers in a spec are never negative: counts, sizes and parameters are at least 0"
    fix = _LOOK_ALIKES.get(ch) or unicodedata.normalize("NFKC", ch)
    if unicodedata.digit(ch, None) is not None:
        fix = str(unicodedata.digit(ch))
    if fix != ch and (fix.isascii() or fix == "×"):
        name = unicodedata.name(ch, "").lower()
        return f"{ch!r}{f' ({name})' if name else ''} looks like {fix!r} but is another character; " \
               f"write {fix!r}"
    if ch in "{}<>|&$%!?@^~`\"'":
        return f"{ch!r} has no meaning in a spec; remove it"
    return "layer descriptions use words, numbers, sizes like 3×3, and , ; : [ ] ( ) = *"


def _expected_hint(expected) -> str | None:
    if set(expected) == {"NUMBER", "LSQB"}:   # after 'param n =' and in alias bindings
        return "a parameter's value is a number or a list like [3, 4, 6, 3]"
    names = sorted({_TOKEN_NAMES.get(e, repr(e.lower())) for e in expected if not e.startswith("__")})
    if not names:
        return None
    if len(names) > 6:
        names = names[:6] + ["…"]
    return "expected " + ", ".join(names)


def _open_bracket(text: str, file: str) -> Span | None:
    """The position of the last '[' that has no matching ']' (for 'unclosed' messages)."""
    stack: list[tuple[int, int]] = []
    for ln, line in enumerate(split_lines(text), 1):
        code = line.split("#", 1)[0]
        for col, ch in enumerate(code, 1):
            if ch == "[":
                stack.append((ln, col))
            elif ch == "]" and stack:
                stack.pop()
    if not stack:
        return None
    ln, col = stack[-1]
    return Span(file, ln, col, ln, col + 1)


def _group_stages(statements: list, file: str) -> list:
    """Attach rows and stage-level ``with`` lines to the stage header above them.

    Rows before any header go into an unnamed stage; ``with`` lines before any stage are
    network-wide settings.
    """
    out: list = []
    current: dict | None = None

    def close():
        if current is not None:
            out.append(ast.Stage(current["name"], current["size"], tuple(current["body"]),
                                 current["span"], current["title"]))

    for st in statements:
        if isinstance(st, _Header):
            close()
            current = {"name": st.name, "size": st.size, "body": list(st.rows), "span": st.span,
                       "title": st.title}
        elif isinstance(st, ast.Row):
            if current is None:
                current = {"name": None, "size": None, "body": [], "span": st.span, "title": None}
            current["body"].append(st)
        elif isinstance(st, ast.With) and current is not None:
            current["body"].append(st)
        else:
            close()
            current = None
            out.append(st)
    close()
    return out


class _Header:
    """Transient: a stage header line before grouping (``name size: rows``)."""
    __slots__ = ("name", "size", "rows", "span", "title")

    def __init__(self, name, size, rows, span, title=None):
        self.name, self.size, self.rows, self.span = name, size, rows, span
        self.title = title


def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column)


class _ToAst(Transformer):
    """Builds AST nodes; checks only what is purely syntactic (stage header form).

    Every rule method takes ``(meta, children)``, as under lark's ``v_args(meta=True)``."""

    def __init__(self, file: str):
        super().__init__(visit_tokens=False)   # no token callbacks: skip the lookup per token
        self.file = file

    def _call_userfunc(self, tree, new_children=None):
        # lark's version looks the method up and rebuilds its v_args wrapper
        # (functools.update_wrapper) on every call: a third of a long spec's transform.
        children = new_children if new_children is not None else tree.children
        f = getattr(type(self), tree.data, None)
        if f is None:
            return self.__default__(tree.data, children, tree.meta)
        try:
            return f(self, tree.meta, children)
        except Exception as e:   # as lark does: the caller unwraps an ArchError
            raise VisitError(tree.data, tree, e) from e

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def start(self, meta, items):
        return list(items)

    # ---- atoms
    def dims(self, meta, items):
        tok = items[0]
        values = tuple(int(v) for v in str(tok).replace("×", "x").replace("X", "x").split("x"))
        return ast.Dims(values, _tok_span(self.file, tok))

    def fcdim(self, meta, items):
        tok = items[0]
        return ast.FcDim(int(str(tok).split("-")[0]), _tok_span(self.file, tok))

    def num(self, meta, items):
        tok = items[0]
        return _number(tok, self.file)

    def word(self, meta, items):
        tok = items[0]
        return ast.Word(str(tok), _tok_span(self.file, tok))

    def slash(self, meta, items):
        # MobileNet v1's ``conv dw / s1``: kept as the word "/" (see grammar.lark, #13c)
        return ast.Word("/", _tok_span(self.file, items[0]))

    def index(self, meta, items):
        name, idx = items
        number = _number(idx, self.file)
        if not isinstance(number.value, int):
            raise ArchError(f"list index must be a whole number, not {idx}", number.span)
        return ast.Index(str(name), number.value, self._span(meta))

    def product(self, meta, items):
        return ast.Product(tuple(items), self._span(meta))

    # -- residual family (#13a)
    def width(self, meta, items):
        """``16×k``: the number times the name (WRN's width factor)."""
        tok = items[0]
        num, name = str(tok).split("×")
        span = _tok_span(self.file, tok)
        col = tok.column + len(num) + 1
        return ast.Product((ast.Num(int(num), num, Span(self.file, tok.line, tok.column, tok.line,
                                                        col - 1)),
                            ast.Word(name, Span(self.file, tok.line, col, tok.line, tok.end_column))),
                           span, "×")

    def keyval_part(self, meta, items):
        """``C=32``: one part holding a :class:`~archdsl.lang.syntax.KeyValue`."""
        span = self._span(meta)
        return ast.Part((ast.KeyValue(str(items[0]), items[1], span),), None, None, None, span)

    def arg(self, meta, items):
        if len(items) == 2:
            return ast.Arg(str(items[0]), items[1], self._span(meta))
        return ast.Arg(None, items[0], self._span(meta))

    def args(self, meta, items):
        return tuple(items)

    # ---- parts and brackets
    def part(self, meta, items):
        repeat = None
        if items and isinstance(items[-1], Token) and items[-1].type == "REPEAT":
            repeat = _repeat(items.pop(), self.file)
        args = None
        if items and isinstance(items[-1], tuple):
            args = items.pop()
        return ast.Part(tuple(items), args, None, repeat, self._span(meta))

    def bracket_part(self, meta, items):
        repeat = _repeat(items[1], self.file) if len(items) > 1 else None
        return ast.Part((), None, items[0], repeat, self._span(meta))

    def entry(self, meta, items):
        return tuple(items)

    def bracket(self, meta, items):
        return ast.Bracket(tuple(items), self._span(meta))

    # ---- statements
    def network(self, meta, items):
        return ast.Network(str(items[0]), self._span(meta))

    def input(self, meta, items):
        return ast.Input(self.dims(meta, items), self._span(meta))

    def classes(self, meta, items):
        return ast.Classes(items[0], self._span(meta))

    def pvalue(self, meta, items):
        item = items[0]
        return _number(item, self.file) if isinstance(item, Token) else item

    def plist(self, meta, items):
        return ast.ListValue(tuple(_number(t, self.file) for t in items), self._span(meta))

    def param(self, meta, items):
        return ast.Param(str(items[0]), items[1], self._span(meta))

    def binding(self, meta, items):
        return (str(items[0]), items[1], self._span(meta))

    def alias(self, meta, items):
        return ast.Alias(str(items[0]), tuple(items[1:]), self._span(meta))

    def with_(self, meta, items):
        return ast.With(tuple(items), self._span(meta))

    def params(self, meta, items):
        return tuple(str(t) for t in items)

    def blockdef(self, meta, items):
        name = str(items[0])
        params = items[1] if len(items) == 3 else ()
        return ast.BlockDef(name, params, items[-1], self._span(meta))

    def row(self, meta, items):
        return ast.Row(tuple(items), self._span(meta))

    def header(self, meta, items):
        head, rest = items[0], items[1:]
        name = size = title = None
        atoms = list(head.atoms)
        words = 0
        while words < len(atoms) and isinstance(atoms[words], ast.Word):
            words += 1
        if words > 1 and head.args is None and head.repeat is None:   # ``Classification Layer``
            name, title = _titled(atoms[:words], None)
            atoms = atoms[words:]
        elif atoms and isinstance(atoms[0], ast.Word):
            name = atoms.pop(0)
        if atoms and isinstance(atoms[0], ast.Dims) and len(atoms[0].values) == 2:
            size = atoms.pop(0)
        if atoms or head.args is not None or head.bracket is not None or head.repeat is not None:
            raise ArchError("a stage header is a name and/or an output size, like 'conv2_x 56×56:'",
                            head.span, hint="put the layers after the ':'")
        rows = (ast.Row(tuple(rest), rest[0].span),) if rest else ()
        return _Header(name, size, rows, self._span(meta), title)

    # -- dense / inception (#13b)
    def titled_header(self, meta, items):
        """``Dense Block (1) 56×56: …``: a title of words and a tag, then an optional size."""
        head, tag, rest = items[0], items[1], list(items[2:])
        after = []
        while rest and not isinstance(rest[0], ast.Part):
            after.append(rest.pop(0))
        if head.bracket is not None or head.args is not None or head.repeat is not None \
                or not all(isinstance(a, ast.Word) for a in head.atoms) or len(after) > 1 \
                or (after and not (isinstance(after[0], ast.Dims) and len(after[0].values) == 2)):
            raise ArchError("a titled stage header is words, a number in parentheses and an "
                            "output size, like 'Dense Block (1) 56×56:'", self._span(meta),
                            hint="put the layers after the ':'")
        name, title = _titled(head.atoms, str(tag).strip())
        rows = (ast.Row(tuple(rest), rest[0].span),) if rest else ()
        return _Header(name, after[0] if after else None, rows, self._span(meta), title)


def _number(tok: Token, file: str) -> ast.Num:
    text = str(tok)
    span = _tok_span(file, tok)
    value: int | float
    if text.isdigit():
        value = int(text)
    else:
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")):
            raise ArchError(f"{text} is not a finite number", span)
    if value > MAX_NUMBER:   # 1e30: few digits, but no count is that large
        raise ArchError(f"number too large: {text}", span,
                        hint=f"numbers in a spec are below 10^{MAX_DIGITS}")
    return ast.Num(value, text, span)


def _repeat(tok: Token, file: str) -> ast.Num | ast.Word | ast.Index:
    """Split a REPEAT token (``×3``, ``x n``, ``×depths[1]``) into its count atom."""
    text = str(tok)
    body = text[1:].lstrip(" \t")
    start = tok.column + (len(text) - len(body))
    span = Span(file, tok.line, start, tok.line, tok.end_column)
    if body.isdigit():
        return ast.Num(int(body), body, span)
    if "[" in body:
        name, idx = body[:-1].split("[")
        return ast.Index(name, int(idx), span)
    return ast.Word(body, span)
