"""Modifiers: the parts of a row that amend the layer before them instead of starting one.

``3×3, 64, stride 2, no bias`` is one conv amended twice; a bare number or parameter after
a kernel size (``3×3, c``) is its channel count. This module says which parts are modifiers
and applies them to a :class:`~archdsl.builder.layer.Layer`; the layer words themselves are in
:mod:`archdsl.builder.words`, which calls in here with itself as the reader of numbers.
"""
from __future__ import annotations

from typing import Any, Protocol

from archdsl.lang import syntax as ast
from archdsl.errors import ArchError, Span
from archdsl.builder.layer import Layer, at_least_one, lower_words, part_text

MODIFIERS = {"stride", "padding", "pad", "groups", "bias", "no", "dilation", "ceil"}
# The attribute a modifier word sets, where the two differ.
_ATTRIBUTE = {"pad": "padding", "no": "bias"}

# The modifiers each layer kind takes; other kinds take none.
_ALLOWED = {"conv": {"stride", "padding", "pad", "groups", "bias", "dilation"},
            "block": {"stride"}, "maxpool": {"stride", "padding", "pad", "ceil"},
            "avgpool": {"stride", "padding", "pad", "ceil"}, "fc": {"bias"}}


class Numbers(Protocol):
    """How a modifier's numbers are read (:class:`archdsl.builder.words.Resolver` is one)."""

    def value(self, atom: ast.Atom, env: dict[str, Any] | None = None, what: str = "value") -> Any:
        ...

    def count(self, atom: ast.Atom, env: dict[str, Any] | None, what: str, minimum: int = 1) -> int:
        ...


def modifies(part: ast.Part, scope: dict) -> bool:
    """Whether ``part`` amends the layer before it (``stride 2``, ``bias``, a channel count,
    a lone parameter name) rather than being a layer of its own."""
    return _is_modifier(part) or _is_name_value(part, scope)


def apply_modifier(layer: Layer, part: ast.Part, numbers: Numbers, env: dict[str, Any] | None,
                   scope: dict) -> None:
    """Amend ``layer`` with the modifier ``part`` (one for which :func:`modifies` holds).

    ``scope`` is every name a value may use (parameters and block arguments); ``numbers``
    reads the modifier's numbers in ``env``. Raises :class:`ArchError` for a modifier the
    layer does not take, one given twice, or a malformed value."""
    atoms = part.atoms
    if atoms and isinstance(atoms[0], ast.KeyValue):
        return _key_value(layer, atoms[0], numbers, env)
    if _activation(part) is not None:
        return _set_activation(layer, part)
    if not atoms or not isinstance(atoms[0], ast.Word) or _is_name_value(part, scope):
        if layer.kind == "conv" and "out_channels" not in layer.attrs and len(atoms) == 1:
            layer.attrs["out_channels"] = numbers.count(atoms[0], env, "channel count")
            return
        raise ArchError(f"unexpected '{part_text(part)}'", part.span,
                        hint="a bare number is a channel count, allowed only right after a kernel size")
    key = atoms[0].text.lower()
    rest = atoms[1:]
    if key in MODIFIERS:
        _not_twice(layer, key, part)
    if key == "no" and lower_words(rest) == ["bias"]:
        layer.attrs["bias"] = False
        layer.explicit.add("bias")
        return
    allowed = _ALLOWED.get(layer.kind, set())
    if key not in allowed:
        raise ArchError(f"'{key}' does not apply to {_kind_name(layer.kind)}", atoms[0].span,
                        hint=f"{_kind_name(layer.kind)} takes: {', '.join(sorted(allowed))}"
                        if allowed else f"{_kind_name(layer.kind)} takes no modifiers")
    if key == "ceil":   # 'ceil mode': torch's ceil_mode=True (torchvision's SqueezeNet)
        if lower_words(rest) != ["mode"] or len(rest) != 1:
            raise ArchError(f"unexpected '{part_text(part)}'", part.span, hint="write 'ceil mode'")
        layer.attrs["ceil_mode"] = True
        layer.explicit.add("ceil")
        return
    if key == "bias":
        layer.explicit.add("bias")
        layer.attrs["bias"] = True
        if rest:
            layer.attrs["bias_init"] = float(numbers.value(rest[0], env, "bias value"))
        return
    if len(rest) != 1:
        raise ArchError(f"'{key}' takes one number, like '{key} 2'", part.span)
    name = _ATTRIBUTE.get(key, key)
    if isinstance(rest[0], ast.Dims):
        if name == "groups" or len(rest[0].values) != 2 or layer.kind == "block":
            raise ArchError(f"'{key}' takes one number", rest[0].span)
        value = tuple(rest[0].values)
        if name == "stride":
            at_least_one("stride", value, rest[0].span)
    else:
        v = numbers.count(rest[0], env, key, minimum=0 if name == "padding" else 1)
        value = v if name == "groups" else (v, v)
    if name == "groups" and "depth" in layer.attrs:   # 5×5×8 already sets the groups
        raise ArchError(f"'groups {value}' and the kernel depth {layer.attrs['depth']} both set "
                        "the groups", part.span, hint="give one of them: the depth is input "
                        "channels ÷ groups (AlexNet's 5×5×48), or write '5×5, 16, groups 4'")
    layer.attrs[name] = value
    layer.explicit.add(name)


def modifier_span(entry: tuple[ast.Part, ...], word: str) -> Span:
    """Where the modifier starting with ``word`` is in a row's parts (else the row's head)."""
    for part in entry[1:]:
        if part.atoms and isinstance(part.atoms[0], ast.Word) and part.atoms[0].text.lower() == word:
            return part.span
    return entry[0].span


def _not_twice(layer: Layer, key: str, part: ast.Part) -> None:
    """Refuse a modifier that sets what an earlier one on the same layer already set."""
    name = _ATTRIBUTE.get(key, key)
    if name not in layer.explicit:
        return
    if name == "bias" and layer.attrs.get("bias") != (key == "bias"):
        raise ArchError(f"'{part_text(part)}' contradicts the "
                        f"'{'no bias' if key == 'bias' else 'bias'}' before it", part.span,
                        hint="keep one of them")
    raise ArchError(f"'{name}' is given twice for one layer", part.span, hint="keep one of them")


def _is_modifier(part: ast.Part) -> bool:
    if part.bracket is not None or part.repeat is not None or part.args is not None:
        return False
    first = part.atoms[0]
    if isinstance(first, ast.KeyValue) or _activation(part) is not None:
        return True
    if isinstance(first, ast.Word):
        word = first.text.lower()
        return (word in MODIFIERS and len(part.atoms) > 1) or word == "bias"
    return isinstance(first, (ast.Num, ast.Index, ast.Product))


def _is_name_value(part: ast.Part, scope: dict) -> bool:
    """A lone parameter name (``c`` in ``[1×1, c; …]``) is a value, not a layer word."""
    return (part.bracket is None and part.args is None and part.repeat is None
            and len(part.atoms) == 1 and isinstance(part.atoms[0], ast.Word)
            and part.atoms[0].text in scope)


def _kind_name(kind: str) -> str:
    return {"conv": "a convolution", "block": "a block", "maxpool": "max pooling",
            "avgpool": "average pooling", "fc": "an fc layer", "gap": "global average pooling",
            "lrn": "LRN", "dropout": "dropout", "softmax": "soft-max", "flatten": "flatten",
            "relu": "ReLU", "bn": "batchnorm", "adaptive_avgpool": "adaptive pooling",
            "relu6": "ReLU6"}.get(kind, kind)


# -- residual family (#13a): ``C=32`` and a layer's own activation ----------------------------
# Named values a part may give (``3×3, 128, C=32``): ResNeXt's cardinality is the conv's groups.
KEY_VALUES = {"C": "groups"}


def _key_value(layer: Layer, kv: ast.KeyValue, numbers: Numbers, env) -> None:
    name = KEY_VALUES.get(kv.name)
    if name is None:
        raise ArchError(f"unknown named value '{kv.name}='", kv.span,
                        hint="'C=32' (ResNeXt's cardinality: the conv's groups) is the one a "
                             "layer takes; other settings are words, like 'groups 32'")
    if layer.kind != "conv":
        raise ArchError(f"'{kv.name}=' (cardinality) applies to a convolution, not "
                        f"{_kind_name(layer.kind)}", kv.span,
                        hint="write it after the grouped conv: '3×3, 128, C=32'")
    if name in layer.explicit:
        raise ArchError(f"'{name}' is given twice for one layer ('C=' is the groups)", kv.span,
                        hint="keep one of them")
    layer.attrs[name] = numbers.count(kv.value, env, "cardinality C")
    layer.explicit.add(name)


def _activation(part: ast.Part):
    """A part naming a layer's own activation (``relu6``, ``leaky relu 0.1``, ``linear``), or
    None. A bare ``relu`` stays a layer of its own, as before."""
    from archdsl.builder.settings import activation
    if part.bracket is not None or part.repeat is not None or part.args is not None \
            or not part.atoms or not isinstance(part.atoms[0], ast.Word):
        return None
    words = lower_words(part.atoms)
    if words in (["relu"],) or words[0] not in ("relu6", "leaky", "leaky-relu", "lrelu", "linear",
                                                "no") or words == ["no", "bias"]:
        return None
    if words[0] == "no" and words != ["no", "activation"]:
        return None
    if words[0] == "linear" and len(part.atoms) > 1:   # ``linear 10``: an fc layer
        return None
    return activation(part.atoms)


def _set_activation(layer: Layer, part: ast.Part) -> None:
    if layer.kind not in ("conv", "fc"):
        raise ArchError(f"'{part_text(part)}' (an activation) applies to a convolution or an fc "
                        f"layer, not {_kind_name(layer.kind)}", part.span,
                        hint="write it after the layer it follows, e.g. '1×1, 24, linear'; a "
                             "whole network's: 'with activation relu6'")
    if "act" in layer.explicit:
        raise ArchError("the layer's activation is given twice", part.span, hint="keep one of them")
    layer.attrs["act"] = _activation(part)
    layer.explicit.add("act")
