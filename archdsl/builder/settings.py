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
      "normal(σ)". preactivation: blocks are full pre-activation units (He et al. 2016b).
      activation: the op after every conv and hidden fc, with its attributes (None: linear).
    """
    shortcut: str = "B"
    batchnorm: bool = False
    bias: bool | None = None
    stride_on: int | None = None
    relu_after_add: bool = True
    init: str = "he"
    # -- residual family (#13a)
    preactivation: bool = False
    activation: tuple = ("relu", ())

    def conv_bias(self) -> bool:
        return (not self.batchnorm) if self.bias is None else self.bias

    def as_tuple(self) -> tuple:
        # The #13a settings appear only when set, so the seed specs' IR stays byte-identical.
        out = []
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            if k in _LATER and v == _LATER[k]:
                continue
            out.append((k, activation_text(v) if k == "activation" else v))
        return tuple(sorted(out))


_LATER = {"preactivation": False, "activation": ("relu", ())}


_KEYS = ["shortcut", "batchnorm", "bn", "no batchnorm", "bias", "no bias", "stride on",
         "relu after add", "relu before add", "init", "preactivation", "activation"]


def apply(settings: Settings, line: ast.With) -> Settings:
    """``settings`` updated by one ``with`` line; unknown or malformed settings are errors."""
    for part in line.parts:
        settings = _apply_part(settings, part)
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
    if words in (["preactivation"], ["pre-activation"], ["full", "pre-activation"],
                 ["full", "preactivation"]):
        return replace(s, preactivation=True)
    if words in (["no", "preactivation"], ["no", "pre-activation"]):
        return replace(s, preactivation=False)
    if head == "activation" and len(atoms) == 1:
        raise ArchError("'activation' needs a name", part.span,
                        hint="activations: " + ", ".join(ACTIVATIONS))
    act = activation(atoms[1:] if head == "activation" else atoms, head == "activation")
    if act is not None:
        return replace(s, activation=act)
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


# -- residual family (#13a): activation choice -------------------------------------------
ACTIVATIONS = ("relu", "relu6", "leaky relu 0.1", "linear")


def activation(atoms, required: bool = False) -> tuple | None:
    """The (op, attrs) an activation phrase names (``relu6``, ``leaky relu 0.1``, ``linear``:
    (None, ())); None when ``atoms`` are not one, unless ``required`` (after ``activation``),
    where that is an error."""
    words = [a.text.lower() if isinstance(a, ast.Word) else None for a in atoms]
    if words in (["relu"],):
        return ("relu", ())
    if words in (["relu6"], ["relu", None]) and (words == ["relu6"] or _num(atoms[1]) == 6):
        return ("relu6", ())
    if words in (["linear"], ["none"], ["identity"], ["no", "activation"]):
        return (None, ())
    if words[:2] in (["leaky", "relu"], ["leaky-relu"]) or words[:1] in (["leaky-relu"], ["lrelu"]):
        rest = atoms[2:] if words[:2] == ["leaky", "relu"] else atoms[1:]
        if len(rest) != 1 or _num(rest[0]) is None or not 0 < _num(rest[0]) < 1:
            raise ArchError("a leaky ReLU needs its negative slope, a number in (0, 1)",
                            atoms[0].span, hint="e.g. 'leaky relu 0.1' (YOLO's)")
        return ("leaky_relu", (("negative_slope", float(_num(rest[0]))),))
    if required:
        raise ArchError("unknown activation '" + " ".join(atom_text(a) for a in atoms) + "'",
                        atoms[0].span if atoms else None,
                        hint="activations: " + ", ".join(ACTIVATIONS))
    return None


def activation_text(act: tuple) -> str:
    """An activation as its spec phrase: ``relu6``, ``leaky relu 0.1``, ``linear``."""
    op, attrs = act
    if op is None:
        return "linear"
    return {"leaky_relu": "leaky relu"}.get(op, op) + "".join(f" {v:g}" for _, v in attrs)


def _num(a):
    return a.value if isinstance(a, ast.Num) else None
