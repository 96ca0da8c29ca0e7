"""Stage titles as the papers print them (#13b): ``Dense Block (1)``, ``inception (3a)``,
``Classification Layer``. The parser keeps the title for fmt and tables and names the stage
with an identifier made from it."""
from __future__ import annotations

from archdsl.errors import Span
from archdsl.lang import syntax as ast


def titled(words, tag: str | None) -> tuple[ast.Word, str]:
    """The stage name and title of a header printed as words (and a tag like ``(1)``):
    ``Dense Block (1)`` → ``dense_block_1``."""
    texts = [w.text for w in words]
    ident = "_".join([t.lower().replace("-", "_").replace(".", "_") for t in texts]
                     + ([tag.strip("()")] if tag else []))
    first, last = words[0].span, words[-1].span
    span = Span(first.file, first.line, first.col, last.end_line, last.end_col)
    return ast.Word(ident, span), " ".join(texts + ([tag] if tag else []))


def word_before(text: str, pos: int) -> str:
    """The word that ends just before ``text[pos]`` (``basic`` in ``basic (16)``)."""
    head = text[:pos].rstrip()
    i = len(head)
    while i and (head[i - 1].isalnum() or head[i - 1] in "_-."):
        i -= 1
    return head[i:]
