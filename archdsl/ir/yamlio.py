"""The IR as YAML: :func:`graph_to_yaml` writes a built graph, :func:`graph_from_yaml` reads it
back as an equal :class:`~archdsl.ir.graph.Graph`, linted (:meth:`~archdsl.ir.graph.Graph.lint`).

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

import re
from typing import Any

import yaml

from archdsl.errors import ArchError, Span
from archdsl.ir.graph import Graph, Node, Stage
from archdsl.ir.names import check_network_name, stage_name_error
from archdsl.ir.yamlnodes import node_lines

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


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """libyaml's emitter when present (~4× faster, byte-identical output), else PyYAML's."""


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
        # the node list is implied by each node's stage (lint holds the two equal)
        stages.append({"name": s.name, "declared": _plain(s.declared), "span": span_to_str(s.span)})
    head = {"format": FORMAT, "version": VERSION, "name": graph.name, "file": graph.file,
            "input_shape": list(graph.input_shape), "num_classes": graph.num_classes,
            "params": {k: _plain(v) for k, v in graph.params},
            "settings": {k: _plain(v) for k, v in graph.settings}, "stages": stages}
    # The same text as one yaml.dump of the whole document, but the node list (nearly all of
    # the file) is written by yamlnodes, which writes what PyYAML would, much faster: PyYAML
    # writes the rest around an empty list, whose line is then replaced.
    # The head and the source go through PyYAML's pure-Python emitter: libyaml folds a
    # double-quoted scalar longer than the width one character differently (a spec source
    # over 1000 characters, like densenet121's), and this part is small.
    text = _dump({**head, "nodes": [], "source": graph.source}, yaml.SafeDumper)
    if not nodes:
        return text
    at = text.index(_EMPTY_NODES) + 1   # the first: only identifiers and numbers come before
    return text[:at] + "nodes:\n" + node_lines(nodes, _dump) + text[at + len(_EMPTY_NODES) - 1:]


_EMPTY_NODES = "\nnodes: []\n"


def _dump(value: Any, dumper: type = _Dumper) -> str:
    return yaml.dump(value, Dumper=dumper, sort_keys=False, default_flow_style=None,
                     allow_unicode=True, width=1000)


def load_yaml(text: str, file: str = "<ir>") -> Any:
    """One YAML document with the safe loader (no tag constructs a Python object); aliases
    are refused before anything is composed (:func:`_no_aliases`)."""
    _no_aliases(text, file)
    return yaml.load(text, Loader=_SAFE_LOADER)


def graph_from_yaml(text: str, file: str = "<ir>") -> Graph:
    """Read an IR YAML document (from :func:`graph_to_yaml`) and lint it (:meth:`Graph.lint`).

    Raises :class:`ArchError` for anything malformed: not YAML, another format, missing
    fields, unknown ops or attributes, or a node whose stored shape its op's rule does not give.
    """
    where = Span(file, 1, 1)
    try:
        doc = load_yaml(text, file)
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
        members: dict[Any, list[str]] = {}
        for n in nodes:
            members.setdefault(n.stage, []).append(n.name)
        stages = tuple(Stage(s["name"], _frozen(s.get("declared")),
                             tuple(members.get(s["name"], ())), span_from_str(s["span"]))
                       for s in doc["stages"])
        graph = Graph(name=check_network_name(doc["name"], where, where="IR field 'name': "),
                      input_shape=_frozen(doc["input_shape"]), num_classes=doc["num_classes"], nodes=nodes, stages=stages,
                      params=tuple((k, _frozen(v)) for k, v in (doc.get("params") or {}).items()),
                      settings=tuple((k, _frozen(v)) for k, v in (doc.get("settings") or {}).items()),
                      file=str(doc.get("file", file)), source=doc.get("source") or "")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ArchError(f"malformed IR file: {type(e).__name__}: {e}", where) from None
    _check_document(graph, file)
    graph.lint()
    _check_classes(graph, file)
    return graph


def _check_classes(graph: Graph, file: str) -> None:
    """num_classes agrees with the classifier (the last fc), or with the output's channels."""
    fcs = [n for n in graph.nodes if n.op == "fc"]
    outputs = fcs[-1].get("out_features") if fcs else graph.output_shape[0]
    if outputs != graph.num_classes:
        raise ArchError(f"num_classes is {graph.num_classes} but the classifier "
                        f"{'(' + fcs[-1].name + ') ' if fcs else ''}has {outputs} outputs",
                        Span(file, 1, 1), hint="the two must agree; rebuild the file with 'archdsl build'")


def _no_aliases(text: str, file: str) -> None:
    """Refuse YAML anchors' aliases (``*a``) before anything is built: graph_to_yaml never
    writes one, a recursive anchor (``&a [*a]``) recurses without end and a billion-laughs
    document expands nine aliases nine times over into gigabytes. The event stream is read
    without composing a node, so the check costs little and allocates nothing big."""
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise ArchError("YAML aliases ('*name') are not allowed in an IR file",
                            Span(file, mark.line + 1, mark.column + 1),
                            hint="archdsl build never writes them; rebuild the file")


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
    if role not in ("main", "shortcut", "gate"):
        raise ValueError(f"node role must be main, shortcut or gate, not {role!r}")
    return Node(name=_text(d, "name"), op=_text(d, "op"), inputs=inputs,
                attrs=tuple((str(k), _frozen(v)) for k, v in d["attrs"].items()),
                shape=shape, span=span_from_str(d["span"]), stage=_text(d, "stage"),
                block=_text(d, "block", None), role=role, template=_text(d, "template", None))


def _is_int(v: Any, least: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= least


def _check_document(graph: Graph, file: str) -> None:
    """What :meth:`Graph.lint` leaves to the file: the class count and declared stage sizes."""
    where = Span(file, 1, 1)
    if not _is_int(graph.num_classes, 1):
        raise ArchError(f"num_classes must be a positive integer, not {graph.num_classes!r}", where)
    for st in graph.stages:
        why = stage_name_error(st.name)
        if why:
            raise ArchError(why, st.span)
        if st.declared is not None and not (isinstance(st.declared, tuple) and len(st.declared) == 2
                                            and all(_is_int(v, 1) for v in st.declared)):
            raise ArchError(f"stage {st.name}: declared size {st.declared!r} must be two positive "
                            "integers", st.span)
