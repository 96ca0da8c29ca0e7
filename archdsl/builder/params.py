"""Family parameters: values from the AST, -D overrides, and the names of family members."""
from __future__ import annotations

from typing import Any

from archdsl.lang import syntax as ast
from archdsl.errors import COMMAND_LINE, ArchError, Span

def pvalue(v: ast.Num | ast.ListValue) -> Any:
    if isinstance(v, ast.ListValue):
        return [i.value for i in v.items]
    return v.value


def check_override(key: str, value: Any, default: Any) -> Any:
    span = COMMAND_LINE
    if isinstance(default, list) != isinstance(value, (list, tuple)):
        kind = "a list like 3,4,6,3" if isinstance(default, list) else "a number"
        raise ArchError(f"-D {key} must be {kind}", span)
    if isinstance(default, list) and len(value) != len(default):
        raise ArchError(f"-D {key} needs {len(default)} values, not {len(value)}", span)
    for v in (value if isinstance(value, (list, tuple)) else [value]):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (
                float("inf"), float("-inf")):
            raise ArchError(f"-D {key} must be a number, not {v!r}", span)
    return list(value) if isinstance(value, (list, tuple)) else value


def check_classes(key: str, value: Any, span: Span) -> Any:
    """``value``, refused if it sets ``classes`` to anything but a positive whole number (a
    declared ``classes`` line is checked by build; -D and aliases bypass that check)."""
    if key == "classes" and (isinstance(value, (list, tuple, bool)) or value != int(value)
                             or value < 1):
        raise ArchError(f"classes must be a positive whole number, not {value}", span)
    return value


def member_name(name, params, defaults, aliases) -> str:
    """Name of a family member chosen with -D: its alias when one matches, else name-k=v."""
    for alias, node in aliases.items():
        bound = {**defaults, **{k: pvalue(v) for k, v, _ in node.bindings}}
        if all(params.get(k) == v for k, v in bound.items()):
            return alias
    diff = [f"{k}{'-'.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in params.items() if defaults.get(k) != v and k != "classes"]
    return f"{name}-{'-'.join(diff)}" if diff else name
