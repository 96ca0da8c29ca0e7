"""The torch-free public API: find a spec by name or path, parse, build and validate it."""
from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Any

from archdsl.builder.build import build
from archdsl.errors import API_CALL, COMMAND_LINE, FROM_COMMAND_LINE, ArchError, Span, split_lines
from archdsl.ir import graph as graph_module
from archdsl.ir.graph import Graph
from archdsl.ir.limits import Limits, check_built
from archdsl.lang.parser import parse
from archdsl.readfile import read_capped
from archdsl.resources import bundled
from archdsl.builder.suggest import suggest

Architecture = Graph  # the validated IR is what users hold

SPEC_DIRS_ENV = "ARCHDSL_SPECS"


def spec_dirs() -> list[Path]:
    """Where bundled spec names are looked up: $ARCHDSL_SPECS (os.pathsep-separated), then the
    bundled specs (the repository's ``specs/``, or the installed wheel's copy)."""
    dirs = [Path(p) for p in os.environ.get(SPEC_DIRS_ENV, "").split(os.pathsep) if p]
    return dirs + [bundled("specs")]


def read_spec(path: str | os.PathLike, max_bytes: int | None = None) -> str:
    """Read a spec file as UTF-8 text; unreadable, binary, over-size (``max_bytes``, default
    :attr:`Limits.max_spec_bytes <archdsl.ir.limits.Limits>`; IR files: ``max_ir_bytes``) or
    non-regular files (``/dev/zero``, a FIFO) are located ArchErrors."""
    p = Path(path)
    ir = p.suffix in (".yaml", ".yml")
    if max_bytes is None:
        max_bytes = Limits().max_ir_bytes if ir else Limits().max_spec_bytes
    data = read_capped(p, max_bytes, "IR" if ir else "spec")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = data[: e.start].count(b"\n") + 1
        # the column counts characters, as every other position does: decode the line's
        # valid prefix; the source line is shown with the bad bytes replaced
        col = len(data[line_start: e.start].decode("utf-8-sig", errors="replace")) + 1
        raise ArchError(f"this is not a spec: byte 0x{data[e.start]:02x} is not UTF-8 text "
                        "(binary data, or another encoding?)",
                        Span(str(p), line, col, line, col + 1), hint="spec files are UTF-8 text",
                        source=data.decode("utf-8-sig", errors="replace")) from None


def find_spec(name: str) -> tuple[Path, str | None]:
    """Resolve a bundled network name to ``(file, alias)``: ``resnet50`` → resnet50.arch;
    ``resnet56`` → resnet-cifar.arch with its alias ``resnet56``."""
    for d in spec_dirs():
        f = d / f"{name}.arch"
        if f.is_file():
            return f, None
    for d in spec_dirs():
        for f in _spec_files(d):
            if name in _aliases(f):
                return f, name
    known = sorted(list_specs())
    raise ArchError(f"no spec or family member named '{name}'", COMMAND_LINE,
                    hint=suggest(name, known, "a network") or f"bundled: {', '.join(known)}")


def list_specs(pattern: str | None = None) -> dict[str, Path]:
    """Every bundled network name (file stems and family aliases) with its file, sorted by
    name; ``pattern`` keeps the names matching a shell wildcard, as timm's ``list_models``
    (``list_specs("resnet*")``, ``list_specs("vgg1?-bn")``; case-insensitive)."""
    out: dict[str, Path] = {}
    for d in reversed(spec_dirs()):
        for f in _spec_files(d):
            out[f.stem] = f
            out.update((alias, f) for alias in _aliases(f))
    names = sorted(out) if pattern is None else [
        n for n in sorted(out) if fnmatch.fnmatchcase(n.lower(), pattern.lower())]
    return {n: out[n] for n in names}


def _spec_files(d: Path) -> list[Path]:
    """The ``.arch`` files of a spec directory, sorted. Dot-files are skipped: a killed
    ``fmt --in-place`` can leave its half-written temp file ``.name.XXXX.tmp.arch``."""
    return sorted(f for f in d.glob("*.arch") if not f.name.startswith("."))


def _aliases(path: Path) -> list[str]:
    """The family-member names a spec file declares (``alias resnet56: n = 9``), found by a
    line scan: cheaper than parsing every bundled spec to resolve one name."""
    names = []
    for line in split_lines(read_spec(path)):
        words = line.split("#", 1)[0].replace(":", " : ").split()
        if len(words) >= 2 and words[0].lower() == "alias":
            names.append(words[1])
    return names


def load(spec: str | os.PathLike, alias: str | None = None, limits: Limits | None = None,
         **params: Any) -> Graph:
    """Load and validate a network: a path to a ``.arch`` (or ``ir.yaml``) file, spec text, or a
    bundled name (``"resnet50"``, ``"resnet56"``). Keyword arguments override family
    parameters (``load("specs/resnet-cifar.arch", n=9)``); ``classes=`` sets the class count;
    ``limits`` sets the resource budgets (:class:`~archdsl.ir.limits.Limits`).
    Raises :class:`~archdsl.errors.ArchError` on any problem.
    """
    try:
        return _load(spec, alias, limits, params)
    except ArchError as e:
        raise (e if FROM_COMMAND_LINE.get() else _for_api(e, spec)) from None


# Errors about arguments are worded for the command line, where they come from most often
# (`-D n=x`, located at <command line>); from Python, the same facts read as arguments of
# the call, which is named instead of a location. The CLI sets errors.FROM_COMMAND_LINE
# while a command runs, and keeps the command-line wording.
_API_WORDS = ((re.compile(r"-D (\w+)"), r"parameter \1"), (re.compile(r" \(from -D\)"), ""),
              (re.compile(r"\bfor example -D "), "for example load(spec, "),
              (re.compile(r"-D values"), "parameters"))


def _for_api(e: ArchError, spec: Any) -> ArchError:
    """``e`` reworded for a Python caller when it is about the arguments (its span is
    the command line); any other error (located in the spec) is returned unchanged."""
    if e.span is None or e.span.file != COMMAND_LINE.file:
        return e
    def word(text: str | None) -> str | None:
        for pattern, repl in _API_WORDS:
            text = pattern.sub(repl, text) if text else text
        return text
    if type(e) is not ArchError:
        return e
    name = API_CALL.get()
    call = f"{name}({str(spec)!r})" if "\n" not in str(spec) else f"{name}(<text>)"
    return ArchError(f"{call}: {word(e.message)}", None, word(e.hint), e.notes)


def _load(spec, alias, limits, params) -> Graph:
    text, file = _source(spec, limits or Limits())
    if file is not None and file.endswith((".yaml", ".yml")):
        from archdsl.ir.yamlio import graph_from_yaml
        if params or alias:
            raise ArchError("this is an IR file, already built: parameters and aliases "
                            f"({', '.join(sorted(params)) or alias}) cannot be applied",
                            Span(file, 1, 1), hint="load the .arch spec it was built from instead")
        from archdsl.builder.rebuild import rebuild_from_ir
        graph = rebuild_from_ir(text) or graph_from_yaml(text, file)
        check_built(graph, limits or Limits())
        return graph
    if file is None:
        if "\n" not in str(spec) and not str(spec).strip().startswith(("network", "input")):
            path, found_alias = find_spec(str(spec))
            return build(parse(read_spec(path, (limits or Limits()).max_spec_bytes), str(path)),
                         params, alias or found_alias, limits)
        return build(parse(str(spec), "<string>"), params, alias, limits)
    return build(parse(text, file), params, alias, limits)


def _source(spec, limits: Limits) -> tuple[str, str | None]:
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec
                                         and (spec.endswith((".arch", ".yaml", ".yml"))
                                              or os.sep in spec)):
        ir = str(spec).endswith((".yaml", ".yml"))
        return read_spec(spec, limits.max_ir_bytes if ir else limits.max_spec_bytes), str(spec)
    return str(spec), None


def draw(graph_or_name: "Graph | str | os.PathLike | list", format: str = "svg",
         by: str = "layer", convention: str = "fvcore", **params: Any) -> str:
    """A picture of a network (or of a list of them, side by side): an SVG, or with
    ``format="html"`` a self-contained HTML page whose boxes show their counts on hover.
    Each item is a :class:`Graph` or anything :func:`load` takes (``params`` go to ``load``);
    ``by`` is ``"layer"``, ``"block"`` or ``"stage"``. Torch-free."""
    from archdsl.analysis.diagram_html import draw as _draw
    items = graph_or_name if isinstance(graph_or_name, (list, tuple)) else [graph_or_name]
    graphs = [g if isinstance(g, Graph) else load(g, **params) for g in items]
    return _draw(graphs, format=format, by=by, convention=convention)


def _graph_svg(graph: Graph) -> str:
    """What a notebook shows for a Graph (``Graph._repr_svg_``, and in ``_repr_html_``): its
    picture, by block for very deep networks (ResNet-1202 by layer is over 1 MB)."""
    from archdsl.analysis.diagram import render_svg
    return render_svg(graph, by="layer" if len(graph.nodes) <= 1000 else "block")


graph_module.DISPLAY["svg"] = _graph_svg
