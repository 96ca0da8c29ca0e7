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
    """
    shortcut: str = "B"
    batchnorm: bool = False
    bias: bool | None = None
    stride_on: int | None = None
    relu_after_add: bool = True
    init: str = "he"

    def conv_bias(self) -> bool:
        return (not self.batchnorm) if self.bias is None else self.bias

    def as_tuple(self) -> tuple:
        return tuple(sorted((k, getattr(self, k)) for k in self.__dataclass_fields__))


_KEYS = ["shortcut", "batchnorm", "bn", "no batchnorm", "bias", "no bias", "stride on",
         "relu after add", "relu before add", "init"]


# Which setting a ``with`` part sets, by its words: a line that sets one twice is refused.
_SETS = {"shortcut": lambda w: w[0] == "shortcut",
         "batchnorm": lambda w: w[-1] in ("batchnorm", "bn", "norm"),
         "bias": lambda w: w[-1] == "bias", "stride_on": lambda w: w[:2] == ["stride", "on"],
         "relu_after_add": lambda w: w[0] == "relu", "init": lambda w: w[0] == "init"}


_LABELS = {"stride_on": "stride on", "relu_after_add": "relu placement (before/after add)"}


def apply(settings: Settings, line: ast.With) -> Settings:
    """``settings`` updated by one ``with`` line; unknown or malformed settings are errors,
    and so is a line that sets one setting twice (``shortcut A, shortcut B``: which one?)."""
    first: dict[str, ast.Part] = {}
    for part in line.parts:
        settings = _apply_part(settings, part)
        words = [a.text.lower() if isinstance(a, ast.Word) else "" for a in part.atoms]
        for key in (k for k, sets in _SETS.items() if sets(words)):
            if key in first:
                text = " ".join(atom_text(a) for a in part.atoms)
                raise ArchError(f"'{text}' sets the {_LABELS.get(key, key)} setting again",
                                part.span, notes=(("first set here", first[key].span),),
                                hint="keep one of them")
            first[key] = part
    return settings


def _apply_part(s: Settings, part: ast.Part) -> Settings:
    atoms = part.atoms
    words = [a.text.lower() if isinstance(a, ast.Word) else None for a in atoms]
    text = " ".join(w or atom_text(a) for w, a in zip(words, atoms))
    if part.bracket is not None or part.repeat is not None or not atoms:
        raise ArchError("a setting is words like 'shortcut B' or 'batchnorm'", part.span)
    head = words[0]
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
