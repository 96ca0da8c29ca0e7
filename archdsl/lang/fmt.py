"""AST -> canonical spec text (``archdsl fmt``).

Canonical form: lower-case keywords, ``×`` in sizes and repeats, ``, `` between parts,
``; `` between bracket entries (one line per bracket), stage headers aligned in two
columns (name left, size right) with every stage's rows starting in one column.
Comments are kept: full-line comments stay above the statement that followed them,
end-of-line comments stay at the end of their statement's line (comments inside a
multi-line bracket or a ``\\``-continued row join the end of its now single line); runs of
blank lines collapse to one. Formatting is idempotent and never changes the IR.
"""
from __future__ import annotations

from archdsl.lang import syntax as ast
from archdsl.lang.syntax import atom_text
from archdsl.errors import split_lines
from archdsl.lang.parser import parse


# ---- atoms, parts, brackets -----------------------------------------------------------
def part_text(p: ast.Part) -> str:
    """One comma-separated part: atoms, ``(args)``, or a bracket, then `` ×N``."""
    if p.bracket is not None:
        s = bracket_text(p.bracket)
    else:
        s = " ".join(atom_text(a) for a in p.atoms)
        if p.args is not None:
            s += "(" + ", ".join((f"{a.name}={atom_text(a.value)}" if a.name else atom_text(a.value))
                                 for a in p.args) + ")"
    if p.repeat is not None:
        s += " ×" + atom_text(p.repeat)
    return s


def parts_text(parts) -> str:
    return ", ".join(part_text(p) for p in parts)


def bracket_text(b: ast.Bracket) -> str:
    return "[" + "; ".join(parts_text(e) for e in b.entries) + "]"


def _pvalue(v) -> str:
    if isinstance(v, ast.ListValue):
        return "[" + ", ".join(n.text for n in v.items) + "]"
    return v.text


def statement_text(st) -> str:
    """A non-stage statement as one canonical line."""
    if isinstance(st, ast.Network):
        return f"network {st.name}"
    if isinstance(st, ast.Input):
        return f"input {atom_text(st.dims)}"
    if isinstance(st, ast.Classes):
        return f"classes {atom_text(st.value)}"
    if isinstance(st, ast.Param):
        return f"param {st.name} = {_pvalue(st.value)}"
    if isinstance(st, ast.Alias):
        return f"alias {st.name}: " + ", ".join(f"{k} = {_pvalue(v)}" for k, v, _ in st.bindings)
    if isinstance(st, ast.With):
        return "with " + parts_text(st.parts)
    if isinstance(st, ast.BlockDef):
        ps = f"({', '.join(st.params)})" if st.params else ""
        return f"block {st.name}{ps} = {bracket_text(st.body)}"
    if isinstance(st, ast.Row):
        return parts_text(st.parts)
    raise TypeError(f"not a statement: {st!r}")


def stage_label(st: ast.Stage) -> str:
    """A stage header's name as written: its title (``Dense Block (1)``) or its name."""
    return st.title or (st.name.text if st.name else "")


# ---- layout ---------------------------------------------------------------------------
def _end(span) -> int:
    return span.end_line or span.line


def _units(spec: ast.Spec) -> list[tuple[str, int, int]]:
    """Output lines with the source line range each came from: ``(text, first, last)``."""
    stages = [st for st in spec.statements if isinstance(st, ast.Stage) and (st.name or st.size)]
    wn = max((len(stage_label(st)) for st in stages if st.name), default=0)
    ws = max((len(atom_text(st.size)) for st in stages if st.size), default=0)
    head_w = (wn + 1 if wn else 0) + ws + 1 if ws else wn + 1
    units: list[tuple[str, int, int]] = []
    for st in spec.statements:
        if not isinstance(st, ast.Stage):
            units.append((statement_text(st), st.span.line, _end(st.span)))
            continue
        body = list(st.body)
        if st.name is None and st.size is None:
            for item in body:
                units.append((statement_text(item), item.span.line, _end(item.span)))
            continue
        name = stage_label(st)
        size = atom_text(st.size) if st.size else ""
        if ws and size:
            head = (f"{name:<{wn}} " if wn else "") + f"{size:>{ws}}:"
        else:
            head = f"{name}:"
        first, last = st.span.line, _end(st.span)
        if body and isinstance(body[0], ast.Row) and body[0].span.line == st.span.line:
            item = body.pop(0)
            last = max(last, _end(item.span))
            units.append((f"{head:<{head_w}} {statement_text(item)}", first, last))
        else:
            units.append((head, first, last))
        for item in body:
            units.append((" " * (head_w + 1) + statement_text(item), item.span.line, _end(item.span)))
    return units


def _comment(line: str) -> str | None:
    i = line.find("#")
    return None if i < 0 else line[i:].rstrip()


def format_spec(spec: str | ast.Spec, file: str = "<spec>") -> str:
    """Canonical text of a spec (text or parsed :class:`~archdsl.lang.syntax.Spec`).

    Raises :class:`~archdsl.errors.ArchError` when the text does not parse.
    """
    if isinstance(spec, str):
        spec = parse(spec, file)
    src = split_lines(spec.source)
    out: list[str] = []
    pos = 1  # next source line not yet accounted for

    def gap(upto: int) -> None:
        # Source lines pos..upto-1 lie between statements: keep comments, collapse blanks.
        for ln in range(pos, upto):
            line = src[ln - 1] if ln <= len(src) else ""
            c = _comment(line)
            if c is not None and not line[: line.find("#")].strip():
                out.append(c)
            elif not line.strip() and out and out[-1] != "":
                out.append("")

    for text, first, last in _units(spec):
        if first >= pos:
            gap(first)
        trailing = [c for ln in range(max(first, pos), last + 1)
                    if ln <= len(src) and (c := _comment(src[ln - 1])) is not None]
        out.append((text + ("  " + " ".join(trailing) if trailing else "")).rstrip())
        pos = max(pos, last + 1)
    gap(len(src) + 1)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""
