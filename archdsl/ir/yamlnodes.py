"""The node list of ``ir.yaml``, written without PyYAML's per-scalar Python machinery.

PyYAML's representer and serializer run in Python for every scalar even over libyaml's C
emitter, and a node list is nearly all scalars (ResNet-1202: 8,400 nodes, ~125k scalars,
~2 s). The values in a node are few kinds — identifiers, span strings, ints, bools, None,
small int lists, a few floats — so this module writes each one the way PyYAML writes it, and
hands anything it is not sure of (a string that needs quoting, an odd float, a line long enough
that PyYAML would wrap it) to PyYAML itself, value by value or node by node. The output is
byte-identical to dumping the same mappings with PyYAML, which ``tests/test_yamlio_fast.py``
holds for every bundled spec and for generated names.
"""
from __future__ import annotations

import re
from typing import Any, Callable

# Plain (unquoted) in both block and flow context, and resolved back as a string: starts with
# a letter or _, then letters, digits and _ . - / only (no indicator PyYAML would quote for).
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*\Z")
# ... except the words PyYAML's resolver reads as bool or null (YAML 1.1).
_RESERVED = {w for base in ("yes", "no", "true", "false", "on", "off", "null", "y", "n")
             for w in (base, base.capitalize(), base.upper())}
# Block context also allows ':' not followed by a space (spans: ``file:12:3-12:40``).
_PLAIN_BLOCK = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:-]*\Z")
_WIDE = 500   # longer node lines go to PyYAML, whose emitter wraps flow collections at 1000


class _Fallback(Exception):
    """This node is written by PyYAML instead."""


def _scalar(v: Any, flow: bool, slow: Callable[[Any], str]) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if type(v) is int:
        return str(v)
    if type(v) is str:
        if v not in _RESERVED and (_PLAIN.match(v) or (not flow and _PLAIN_BLOCK.match(v)
                                                       and not v.endswith(":"))):
            return v
        raise _Fallback
    if type(v) is float:
        return slow(v)
    if type(v) in (list, tuple):
        if not flow and any(type(x) in (list, tuple, dict) for x in v):
            raise _Fallback   # PyYAML writes a nested sequence in block style here
        return "[" + ", ".join(_scalar(x, True, slow) for x in v) + "]"
    raise _Fallback


def node_lines(nodes: list[dict[str, Any]], dump_one: Callable[[Any], str],
               flow_key: str = "attrs") -> str:
    """The YAML block sequence of ``nodes`` (mappings of scalars and flat lists; the value of
    ``flow_key`` a mapping written on one line), exactly as ``dump_one([node])`` would write
    each node. ``dump_one`` dumps a value with the caller's PyYAML dumper and settings."""
    floats: dict[float, str] = {}

    def slow(v: float) -> str:
        text = floats.get(v)
        if text is None:
            text = floats[v] = dump_one(v).split("\n", 1)[0]
        return text

    out = []
    for node in nodes:
        try:
            lines = []
            for i, (key, value) in enumerate(node.items()):
                if key == flow_key:
                    text = "{" + ", ".join(f"{_scalar(k, True, slow)}: {_scalar(x, True, slow)}"
                                           for k, x in value.items()) + "}"
                else:
                    text = _scalar(value, False, slow)
                if type(key) is not str:
                    raise _Fallback
                line = f"{'- ' if i == 0 else '  '}{_scalar(key, True, slow)}: {text}"
                if len(line) > _WIDE:
                    raise _Fallback
                lines.append(line)
            out.append("\n".join(lines) + "\n")
        except _Fallback:
            out.append(dump_one([node]))
    return "".join(out)
