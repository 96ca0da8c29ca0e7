"""``with`` lines: network-wide and stage-level choices the papers state in prose.

``with shortcut B, batchnorm, stride on 3×3, relu after add, init he``
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from archdsl.lang import syntax as ast
from archdsl.errors import ArchError
from archdsl.lang.syntax import atom_text
from archdsl.builder.suggest import suggest

SHORTCUTS = {"a": "A", "b": "B", "c": "C", "plain": "plain", "none": "plain"}


@dataclass(frozen=True, slots=True)
class Settings:
    """The choices that shape how layers expand into IR nodes.

    shortcut: A (identity, zero-padded channels), B (projection when dimensions change),
      C (projection always) or plain (no shortcut). batchnorm: BN after every conv.
    bias: conv bias (None: only when there is no batchnorm). stride_on: which conv of a
      downsampling block takes the stride — None for the first, else its kernel (1 = the
      paper's 1×1, 3 = torchvision v1.5's 3×3). relu_after_add: ReLU after the residual
      addition (the paper) rather than at the end of the residual branch. init: "he" or
      "normal(σ)".
    Since issue 13c (absent from :meth:`as_tuple` at their defaults, so older specs keep
    their IR): width: MobileNet's width multiplier α on every stated channel count;
    round_channels: how c·α is rounded (None: it must be whole; "down": MobileNet v1's
    TensorFlow rule; an int d: the nearest multiple of d, MobileNet v2's / torchvision's);
    activation: the op after each conv outside blocks ("relu" or "relu6").
    """
    shortcut: str = "B"
    batchnorm: bool = False
    bias: bool | None = None
    stride_on: int | None = None
    relu_after_add: bool = True
    init: str = "he"
    width: float = 1
    round_channels: str | int | None = None
    activation: str = "relu"

    def conv_bias(self) -> bool:
        return (not self.batchnorm) if self.bias is None else self.bias

    def as_tuple(self) -> tuple:
        return tuple(sorted((k, getattr(self, k)) for k in self.__dataclass_fields__
                            if not (k in _LATER and getattr(self, k) == _LATER[k])))


# Settings added after the golden records (issue 13c): left out of as_tuple at the default.
_LATER = {"width": 1, "round_channels": None, "activation": "relu"}


_KEYS = ["shortcut", "batchnorm", "bn", "no batchnorm", "bias", "no bias", "stride on",
         "relu after add", "relu before add", "init", "width multiplier", "round channels",
         "relu6"]


# Which setting a ``with`` part sets, by its words: a line that sets one twice is refused.
_SETS = {"shortcut": lambda w: w[0] == "shortcut",
         "batchnorm": lambda w: w[-1] in ("batchnorm", "bn", "norm"),
         "bias": lambda w: w[-1] == "bias", "stride_on": lambda w: w[:2] == ["stride", "on"],
         "relu_after_add": lambda w: w[0] == "relu", "init": lambda w: w[0] == "init"}


_LABELS = {"stride_on": "stride on", "relu_after_add": "relu placement (before/after add)"}


def apply(settings: Settings, line: ast.With, params: dict | None = None) -> Settings:
    """``settings`` updated by one ``with`` line; unknown or malformed settings are errors,
    and so is a line that sets one setting twice (``shortcut A, shortcut B``: which one?).

    ``params`` are the family parameters a setting may name (``width multiplier alpha``);
    without them such a name is only checked for form (the builder applies the network's
    ``with`` lines again once ``-D`` overrides are known)."""
    first: dict[str, ast.Part] = {}
    for part in line.parts:
        settings = _apply_part(settings, part, params)
        words = [a.text.lower() if isinstance(a, ast.Word) else "" for a in part.atoms]
        for key in (k for k, sets in _SETS.items() if sets(words)):
            if key in first:
                text = " ".join(atom_text(a) for a in part.atoms)
                raise ArchError(f"'{text}' sets the {_LABELS.get(key, key)} setting again",
                                part.span, notes=(("first set here", first[key].span),),
                                hint="keep one of them")
            first[key] = part
    return settings


def _apply_part(s: Settings, part: ast.Part, params: dict | None = None) -> Settings:
    atoms = part.atoms
    words = [a.text.lower() if isinstance(a, ast.Word) else None for a in atoms]
    text = " ".join(w or atom_text(a) for w, a in zip(words, atoms))
    if part.bracket is not None or part.repeat is not None or not atoms:
        raise ArchError("a setting is words like 'shortcut B' or 'batchnorm'", part.span)
    head = words[0]
    if (mobile := _mobile(s, words, atoms, part, params)) is not None:
        return mobile
    if head == "shortcut" and len(words) == 2 and words[1] in SHORTCUTS:
        return replace(s, shortcut=SHORTCUTS[words[1]])
    if head == "shortcut":
        raise ArchError(f"unknown shortcut option '{text[9:]}'", part.span,
                        hint="use 'shortcut A' (zero-padding), 'B' (projection when dimensions "
                             "change), 'C' (projection always) or 'plain' (none)")
    if words in (["batchnorm"], ["bn"], ["batch", "norm"]):
        return replace(s, batchnorm=True)
    if words in (["no", "batchnorm"], ["no", "bn"]):
        return replace(s, batchnorm=False)
    if words == ["bias"]:
        return replace(s, bias=True)
    if words == ["no", "bias"]:
        return replace(s, bias=False)
    if words[:2] == ["stride", "on"] and len(atoms) == 3:
        last = atoms[2]
        if isinstance(last, ast.Dims) and len(last.values) == 2 and last.values[0] == last.values[1]:
            return replace(s, stride_on=last.values[0])
        if words[2] == "first":
            return replace(s, stride_on=None)
        raise ArchError("'stride on' takes a kernel size, like 'stride on 3×3'", last.span)
    if words == ["relu", "after", "add"]:
        return replace(s, relu_after_add=True)
    if words == ["relu", "before", "add"]:
        return replace(s, relu_after_add=False)
    if head == "init":
        if words[1:] == ["he"]:
            return replace(s, init="he")
        if words[1:2] == ["normal"] and len(atoms) == 3 and isinstance(atoms[2], ast.Num):
            if atoms[2].value <= 0:
                raise ArchError("the standard deviation must be positive", atoms[2].span,
                                hint="e.g. 'init normal 0.01' (VGG, AlexNet)")
            return replace(s, init=f"normal({atoms[2].value:g})")
        raise ArchError("unknown initialisation", part.span, hint="use 'init he' or 'init normal 0.01'")
    raise ArchError(f"unknown setting '{text}'", part.span,
                    hint=suggest(text, _KEYS, "a setting") or "settings: " + ", ".join(_KEYS))


# ---- fire / mobile (#13c): width multiplier, its rounding, relu6 -----------------------------
def _mobile(s: Settings, words: list, atoms: tuple, part: ast.Part, params: dict | None
            ) -> Settings | None:
    """``width multiplier α``, ``round channels down`` / ``to 8``, ``relu6`` / ``relu``;
    None when the part is none of these."""
    if words in (["relu6"], ["relu"]):
        return replace(s, activation=words[0])
    if words[:2] == ["width", "multiplier"]:
        if len(atoms) != 3 or not isinstance(atoms[2], (ast.Num, ast.Word)):
            raise ArchError("'width multiplier' takes one number or parameter, like "
                            "'width multiplier alpha'", part.span)
        a = atoms[2]
        if isinstance(a, ast.Word) and params is None:
            return s   # checked once the parameters are known
        if isinstance(a, ast.Word) and a.text not in params:
            raise ArchError(f"unknown parameter '{a.text}' for the width multiplier", a.span,
                            hint=suggest(a.text, list(params), "a parameter")
                            or f"declare it, e.g. 'param {a.text} = 1'")
        v = params[a.text] if isinstance(a, ast.Word) else a.value
        if isinstance(v, list) or not 0 < v <= 16:
            raise ArchError(f"the width multiplier must be a number in (0, 16], not "
                            f"{v if isinstance(v, list) else f'{v:g}'}"
                            + (f" ('{a.text}', settable with -D)" if isinstance(a, ast.Word) else ""),
                            a.span, hint="MobileNet's α is 1, 0.75, 0.5 or 0.25 (α = 0 has no "
                                         "channels at all)")
        return replace(s, width=int(v) if float(v).is_integer() else float(v))
    if words[:2] == ["round", "channels"]:
        if words[2:] == ["down"]:
            return replace(s, round_channels="down")
        if words[2:3] == ["to"] and len(atoms) == 4 and isinstance(atoms[3], ast.Num) \
                and isinstance(atoms[3].value, int) and atoms[3].value >= 1:
            return replace(s, round_channels=atoms[3].value)
        raise ArchError(f"unknown rounding '{' '.join(w or atom_text(a) for w, a in zip(words, atoms))}'",
                        part.span, hint="use 'round channels down' (⌊c·α⌋, at least 8: "
                                        "MobileNet v1's code) or 'round channels to 8' (the "
                                        "nearest multiple of 8: MobileNet v2, torchvision)")
    return None
