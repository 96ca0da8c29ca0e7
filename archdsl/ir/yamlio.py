"""The IR as YAML: :func:`graph_to_yaml` writes a built graph, :func:`graph_from_yaml` reads it
back as an equal :class:`~archdsl.ir.graph.Graph`, re-checking every shape with the op table.

Torch-free (``archdsl build`` writes ``ir.yaml`` next to the generated ``model.py``; ``load``
accepts such files). Layout, one mapping per node::

    format: archdsl-ir
    version: 1
    name: resnet50
    input_shape: [3, 224, 224]
    ...
    nodes:
    - name: conv2_x.0.conv1
      op: conv
      inputs: [conv2_x.pool]
      shape: [64, 56, 56]
      stage: conv2_x
      block: conv2_x.0            # omitted when the node sits directly in its stage
      role: shortcut              # omitted for "main"
      template: bottleneck        # the named block it came from; omitted outside one
      span: specs/resnet50.arch:12:3-12:40
      attrs: {bias: false, kernel: [1, 1], ...}

Spans are ``file:line:col`` with ``-end_line:end_col`` appended when the end is known.
Sequences come back as tuples, as the IR stores them.
"""
from __future__ import annotations

import math
import re
from typing import Any

import yaml

from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Graph, Node, Stage
from archdsl.ir.ops import OPS, ShapeError

FORMAT, VERSION = "archdsl-ir", 1
# The C loader when libyaml is present (~10× faster on a ResNet-152 IR); safe either way:
# no tag can construct a Python object.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SPAN = re.compile(r"^(?P<file>.*):(?P<line>\d+):(?P<col>\d+)(?:-(?P<el>\d+):(?P<ec>\d+))?$")


def span_to_str(span: Span) -> str:
    """``file:line:col``, plus ``-end_line:end_col`` when the span has an end."""
    s = f"{span.file}:{span.line}:{span.col}"
    if span.end_line is not None and span.end_col is not None:
        s += f"-{span.end_line}:{span.end_col}"
    return s


def span_from_str(text: str) -> Span:
    """Inverse of :func:`span_to_str`."""
    m = _SPAN.match(str(text))
    if not m:
        raise ValueError(f"not a span (file:line:col): {text!r}")
    end = (int(m["el"]), int(m["ec"])) if m["el"] else (None, None)
    return Span(m["file"], int(m["line"]), int(m["col"]), *end)


def _plain(v: Any) -> Any:
    """IR values -> YAML-safe values (tuples as lists)."""
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def _frozen(v: Any) -> Any:
    """YAML values -> IR values (lists as tuples, recursively)."""
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v


class _Flow(dict):
    """A mapping written on one line (node attributes)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping(
    "tag:yaml.org,2002:map", data.items(), flow_style=True))


def graph_to_yaml(graph: Graph) -> str:
    """The graph as YAML text that :func:`graph_from_yaml` turns back into an equal Graph."""
    nodes = []
    for n in graph.nodes:
        d: dict[str, Any] = {"name": n.name, "op": n.op, "inputs": list(n.inputs),
                             "shape": list(n.shape), "stage": n.stage}
        if n.block is not None:
            d["block"] = n.block
        if n.role != "main":
            d["role"] = n.role
        if n.template is not None:
            d["template"] = n.template
        d["span"] = span_to_str(n.span)
        d["attrs"] = _Flow((k, _plain(v)) for k, v in n.attrs)
        nodes.append(d)
    stages = []
    for s in graph.stages:
        d = {"name": s.name, "declared": _plain(s.declared), "span": span_to_str(s.span)}
        # the node list is implied by each node's stage; written only if it differs
        if s.nodes != tuple(n.name for n in graph.nodes if n.stage == s.name):
            d["nodes"] = list(s.nodes)
        stages.append(d)
    doc = {"format": FORMAT, "version": VERSION, "name": graph.name, "file": graph.file,
           "input_shape": list(graph.input_shape), "num_classes": graph.num_classes,
           "params": {k: _plain(v) for k, v in graph.params},
           "settings": {k: _plain(v) for k, v in graph.settings},
           "stages": stages, "nodes": nodes, "source": graph.source}
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=None,
                     allow_unicode=True, width=1000)


def graph_from_yaml(text: str, file: str = "<ir>") -> Graph:
    """Read an IR YAML document (from :func:`graph_to_yaml`) and re-validate its shapes.

    Raises :class:`ArchError` for anything malformed: not YAML, another format, missing
    fields, unknown ops, or a node whose stored shape its op's rule does not give.
    """
    where = Span(file, 1, 1)
    try:
        doc = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        span = Span(file, mark.line + 1, mark.column + 1) if mark else where
        raise ArchError(f"not valid YAML: {getattr(e, 'problem', e)}", span) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ArchError(f"not an archdsl IR file (expected 'format: {FORMAT}')", where)
    if doc.get("version") != VERSION:
        raise ArchError(f"IR version {doc.get('version')!r} is not supported (expected {VERSION})",
                        where, hint="rebuild it with 'archdsl build'")
    try:
        nodes = tuple(_node(d) for d in doc["nodes"])
        stages = tuple(Stage(s["name"], _frozen(s.get("declared")),
                             _frozen(s["nodes"]) if "nodes" in s else
                             tuple(n.name for n in nodes if n.stage == s["name"]),
                             span_from_str(s["span"])) for s in doc["stages"])
        graph = Graph(name=str(doc["name"]), input_shape=_frozen(doc["input_shape"]),
                      num_classes=int(doc["num_classes"]), nodes=nodes, stages=stages,
                      params=tuple((k, _frozen(v)) for k, v in (doc.get("params") or {}).items()),
                      settings=tuple((k, _frozen(v)) for k, v in (doc.get("settings") or {}).items()),
                      file=str(doc.get("file", file)), source=doc.get("source") or "")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ArchError(f"malformed IR file: {type(e).__name__}: {e}", where) from None
    _check(graph, file)
    return graph


def _text(d: dict, key: str, default: Any = KeyError) -> Any:
    """A string field of a node mapping (``default`` when absent, if given)."""
    if key not in d and default is not KeyError:
        return default
    v = d[key]
    if not isinstance(v, str):
        raise ValueError(f"node field {key!r} must be a string, not {v!r}")
    return v


def _node(d: dict) -> Node:
    if not isinstance(d, dict) or not isinstance(d.get("attrs"), dict):
        raise ValueError(f"a node must be a mapping with an attrs mapping, not {d!r:.60}")
    inputs = _frozen(d["inputs"])
    if not isinstance(inputs, tuple) or not all(isinstance(i, str) for i in inputs):
        raise ValueError(f"node inputs must be a list of names, not {d['inputs']!r}")
    shape = _frozen(d["shape"])
    if not isinstance(shape, tuple):
        raise ValueError(f"node shape must be a list, not {d['shape']!r}")
    role = _text(d, "role", "main")
    if role not in ("main", "shortcut"):
        raise ValueError(f"node role must be main or shortcut, not {role!r}")
    return Node(name=_text(d, "name"), op=_text(d, "op"), inputs=inputs,
                attrs=tuple((str(k), _frozen(v)) for k, v in d["attrs"].items()),
                shape=shape, span=span_from_str(d["span"]), stage=_text(d, "stage"),
                block=_text(d, "block", None), role=role, template=_text(d, "template", None))


# What each attribute may hold. The op table trusts its attributes (the builder made them);
# a hand-edited ir.yaml is checked here first, so a bad value is a located error, not a
# TypeError or a division by zero deep in a shape rule.
_INIT = re.compile(r"he|torch|normal\((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\)")
_POSITIVE = {"in_channels", "out_channels", "groups", "channels", "in_features", "out_features",
             "kernel", "stride", "size"}
_NATURAL = {"padding", "pad_before", "pad_after"}
_REAL = {"p", "alpha", "beta", "k", "eps", "momentum"}
_FLAG = {"bias"}
_TEXT = {"init"}
_OPTIONAL_REAL = {"bias_init"}


def _is_int(v: Any, least: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= least


def _is_pair(op: str, key: str) -> bool:
    """Window sizes are (h, w) pairs; option A's stride and LRN's size are single numbers."""
    if key in ("kernel", "padding"):
        return True
    return (key == "stride" and op != "pad_shortcut") or (key == "size" and op == "adaptive_avgpool")


def _bad_attr(op: str, key: str, value: Any) -> str | None:
    """Why ``value`` cannot be attribute ``key`` of an ``op`` node, or None when it can."""
    if key in _POSITIVE or key in _NATURAL:
        least = 1 if key in _POSITIVE else 0
        if _is_pair(op, key):
            if not (isinstance(value, tuple) and len(value) == 2
                    and all(_is_int(v, least) for v in value)):
                return f"a pair of integers ≥ {least}"
        elif not _is_int(value, least):
            return f"an integer ≥ {least}"
    elif key in _REAL:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            return "a number ≥ 0"
        if key == "p" and value >= 1:
            return "a probability below 1"
    elif key in _FLAG:
        if not isinstance(value, bool):
            return "true or false"
    elif key in _TEXT:
        if not isinstance(value, str) or not _INIT.fullmatch(value):
            return "an initialisation like 'he' or 'normal(0.01)'"
    elif key in _OPTIONAL_REAL:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            return "a number or null"
    else:
        return "a known attribute"
    return None


def _check_values(graph: Graph, file: str) -> None:
    """Input shape, class count and every node attribute have the types the op table needs."""
    where = Span(file, 1, 1)
    if len(graph.input_shape) != 3 or not all(_is_int(v, 1) for v in graph.input_shape):
        raise ArchError(f"input_shape must be three positive integers, not {list(graph.input_shape)}",
                        where)
    if not _is_int(graph.num_classes, 1):
        raise ArchError(f"num_classes must be a positive integer, not {graph.num_classes!r}", where)
    stages = [st.name for st in graph.stages]
    if not all(isinstance(name, str) for name in stages) or len(set(stages)) != len(stages):
        raise ArchError(f"stage names must be distinct strings, not {stages}", where)
    for st in graph.stages:
        if st.declared is not None and not (isinstance(st.declared, tuple) and len(st.declared) == 2
                                            and all(_is_int(v, 1) for v in st.declared)):
            raise ArchError(f"stage {st.name}: declared size {st.declared!r} must be two positive "
                            "integers", st.span)
    seen = {"input"}
    for n in graph.nodes:
        if n.name in seen:
            raise ArchError(f"node name {n.name!r} is used twice", n.span)
        seen.add(n.name)
        if n.stage not in stages:
            raise ArchError(f"{n.name}: stage {n.stage!r} is not one of the stages", n.span)
        have = {k for k, _ in n.attrs}
        want = OPS[n.op].attrs if n.op in OPS else have   # an unknown op is refused by _check
        if have != want:
            odd = sorted(want - have) or sorted(have - want)
            raise ArchError(f"{n.name}: {n.op} {'needs' if want - have else 'has no'} "
                            f"attribute{'s' * (len(odd) > 1)} {', '.join(odd)}", n.span)
        for key, value in n.attrs:
            if (why := _bad_attr(n.op, key, value)) is not None:
                raise ArchError(f"{n.name}: attribute {key} = {value!r} must be {why}", n.span)
        if not all(_is_int(v, 1) for v in n.shape):
            raise ArchError(f"{n.name}: shape {list(n.shape)} must be positive integers", n.span)


def _check(graph: Graph, file: str) -> None:
    """Every value well typed, every op known, every input defined earlier, every stored
    shape re-inferred."""
    shapes: dict[str, tuple] = {"input": graph.input_shape}
    if not graph.nodes:
        raise ArchError("the IR file has no nodes", Span(file, 1, 1))
    _check_values(graph, file)
    for n in graph.nodes:
        if n.op not in OPS:
            raise ArchError(f"{n.name}: unknown op {n.op!r}", n.span)
        arity = OPS[n.op].inputs
        if len(n.inputs) != arity:
            raise ArchError(f"{n.name}: {n.op} takes {arity} input{'s' * (arity > 1)}, "
                            f"not {len(n.inputs)}", n.span)
        missing = [i for i in n.inputs if i not in shapes]
        if missing:
            raise ArchError(f"{n.name}: input {missing[0]!r} is not defined before it", n.span)
        try:
            got = OPS[n.op].infer(dict(n.attrs), [shapes[i] for i in n.inputs])
        except ShapeError as e:
            raise ArchError(f"{n.name}: {e.message}", n.span) from None
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as e:
            # _check_values should have caught it; a hand-made file can still combine
            # well-typed values into nonsense (e.g. a 2-d shape into a conv)
            raise ArchError(f"{n.name}: malformed node ({type(e).__name__}: {e})", n.span) from None
        if tuple(got) != n.shape:
            raise ArchError(f"{n.name}: stored shape {n.shape} but {n.op} gives {tuple(got)}",
                            n.span)
        shapes[n.name] = n.shape
