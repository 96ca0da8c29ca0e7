"""One error type with a source location, rendered like a compiler diagnostic.

Every user-facing failure in archdsl is an :class:`ArchError`: parse errors, unknown
words, shape mismatches, bad parameters. The CLI prints it and exits 2.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based line/column of its start and end (end exclusive)."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


# Where errors in command-line input (-D values, a network name) are located: no source
# line to show, so the rendering prints the position and message only.
COMMAND_LINE = Span("<command line>", 1, 1)
# Set while a CLI command runs: errors about arguments keep their command-line wording
# (`-D n must be …`); from Python, archdsl.load words them as its own arguments.
FROM_COMMAND_LINE: contextvars.ContextVar[bool] = contextvars.ContextVar("archdsl_cli", default=False)
# The public call an argument error names (``create_model`` sets its own around its load).
API_CALL: contextvars.ContextVar[str] = contextvars.ContextVar("archdsl_call", default="archdsl.load")


class ArchError(Exception):
    """A located, user-facing error: message, span, fix hint and optional notes.

    ``notes`` are secondary locations (for example the definition of a block whose use
    failed), each a ``(message, span)`` pair. ``source`` is the text the spans index into,
    used to print the offending line with a caret under it.
    """

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None,
                 notes: tuple[tuple[str, Span], ...] = (), source: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.notes = tuple(notes)
        self.source = source

    def with_source(self, source: str) -> "ArchError":
        """Return self, remembering the source text if none was attached yet."""
        if self.source is None:
            self.source = source
        return self

    def render(self, _lines: list[str] | None = None) -> str:
        """Format as ``file:line:col: error: message``, the source line, a caret and hints."""
        src = _lines if _lines is not None else _source_lines(self)
        lines = [_located("error", self.message, self.span, src)]
        for note, span in self.notes:
            lines.append(_located("note", note, span, src))
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ArchErrors(ArchError):
    """Several independent errors found in one run; renders them all, in source order."""

    def __init__(self, errors: list[ArchError], stopped: bool = False):
        ordered = sorted(_distinct(errors),
                         key=lambda e: (e.span.line, e.span.col) if e.span else (0, 0))
        first = ordered[0]
        super().__init__(first.message, first.span, first.hint, first.notes, first.source)
        self.errors = tuple(ordered)
        #: whether checking stopped at :data:`MAX_ERRORS` (later errors were not looked for)
        self.stopped = stopped

    def with_source(self, source: str) -> "ArchErrors":
        """Attach the source to every error, so each one prints its line and caret."""
        super().with_source(source)
        for e in self.errors:
            e.with_source(source)
        return self

    def render(self, _lines: list[str] | None = None) -> str:
        # The source is split into lines once for all errors (not once per error: 16k errors
        # in a 16k-line spec would be quadratic), and only the first MAX_SHOWN are printed.
        split: dict[int, list[str] | None] = {}
        shown = []
        for e in self.errors[:MAX_SHOWN]:
            if id(e.source) not in split:
                split[id(e.source)] = _source_lines(e)
            shown.append(e.render(split[id(e.source)]))
        n = len(self.errors)
        more = n - len(shown)
        stop = f"; checking stopped after {n:,} errors: fix these first" if self.stopped else ""
        return "\n".join(shown) + (f"\n… and {more:,} more errors{stop}" if more else "") \
            + (f"\n{n:,} errors{'+' if self.stopped else ''}" if n > 1 else "")


#: How many errors :class:`ArchErrors` prints; the rest are counted ("… and N more errors").
MAX_SHOWN = 50
#: After this many errors the builder stops looking for more (like a compiler's error limit):
#: a generated spec with 16k bad rows is reported in a second, not after 16k suggestions.
MAX_ERRORS = 1000
#: Longest source line printed under an error; a longer one is cut around the caret.
MAX_LINE = 160


def _source_lines(e: ArchError) -> list[str] | None:
    return split_lines(e.source) if e.source is not None else None


def split_lines(text: str) -> list[str]:
    r"""The lines of ``text`` as the grammar counts them: only ``\n`` ends a line (a ``\r``
    before it is dropped). ``str.splitlines`` would also split at form feeds, ``\x85``,
    ``\u2028`` …, putting every later caret on the wrong line."""
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]


def _located(kind: str, message: str, span: Span | None, src_lines: list[str] | None) -> str:
    if span is None:
        return f"{kind}: {message}"
    out = f"{span}: {kind}: {message}"
    if src_lines is not None and span.file != COMMAND_LINE.file:
        if 1 <= span.line <= len(src_lines):
            text = src_lines[span.line - 1].expandtabs(1)
            width = 1
            if span.end_line == span.line and span.end_col and span.end_col > span.col:
                width = span.end_col - span.col
            col = span.col - 1
            if len(text) > MAX_LINE:   # a 100 KB line is shown as the part around the caret
                start = max(0, col - MAX_LINE // 3)
                end = start + MAX_LINE
                text = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
                col = col - start + (1 if start else 0)
                width = min(width, MAX_LINE - (col - (1 if start else 0)))
            out += f"\n  {text}\n  {' ' * col}{'^' * max(1, width)}"
    return out


def _distinct(errors: list[ArchError]) -> list[ArchError]:
    """``errors`` without repeats: a repeated layer or block fails the same way each time."""
    seen, out = set(), []
    for e in errors:
        key = (e.message, e.span)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def collect(errors: list[ArchError], stopped: bool = False) -> None:
    """Raise the collected errors (one, or several as :class:`ArchErrors`; ``stopped``: the
    search stopped at :data:`MAX_ERRORS`); do nothing if none."""
    errors = _distinct(errors)
    if len(errors) == 1 and not stopped:
        raise errors[0]
    if errors:
        raise ArchErrors(errors, stopped)
