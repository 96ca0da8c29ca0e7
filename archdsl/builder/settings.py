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
    Since issue 13c (absent from :meth:`as_tuple` at their defaults, so older specs keep
    their IR): width: MobileNet's width multiplier α on every stated channel count;
    round_channels: how c·α is rounded (None: it must be whole; "down": MobileNet v1's
    TensorFlow rule; an int d: the nearest multiple of d, MobileNet v2's / torchvision's).
    """
    shortcut: str = "B"
    batchnorm: bool = False
    bias: bool | None = None
    stride_on: int | None = None
    relu_after_add: bool = True
    init: str = "he"
    width: float = 1
    round_channels: str | int | None = None
    # -- dense / inception (#13b): fields added after the seed specs; as_tuple leaves them
    # out at their defaults, so the IR of a spec that does not use them is unchanged.
    blocks: str = "residual"           # the kind of a plain bracket: residual, or dense
    growth: int | None = None          # DenseNet's growth rate k: a dense entry's implied width
    compression: float | None = None   # DenseNet's θ: a transition conv's implied width ÷ input
    bn_eps: float = 1e-5               # torchvision's GoogLeNet: 0.001
    inception_5x5: int = 5             # torchvision's GoogLeNet: a 3×3 conv in the 5×5 branch
    # -- residual family (#13a)
    preactivation: bool = False        # a lone conv is bare: its BN-ReLU written before it
    activation: tuple = ("relu", ())

    def conv_bias(self) -> bool:
        return (not self.batchnorm) if self.bias is None else self.bias

    def as_tuple(self) -> tuple:
        # Settings added after the seed specs appear only when set, so the seed specs' IR
        # stays byte-identical.
        out = []
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            if k in _LATER and v == _LATER[k]:
                continue
            out.append((k, activation_text(v) if k == "activation" else v))
        return tuple(sorted(out))


# Settings added after the seed specs, with their defaults (see Settings.as_tuple).
_LATER = {"width": 1, "round_channels": None, "activation": ("relu", ()),
          "blocks": "residual", "growth": None, "compression": None, "preactivation": False,
          "bn_eps": 1e-5, "inception_5x5": 5}

_KEYS = ["shortcut", "batchnorm", "bn", "no batchnorm", "bias", "no bias", "stride on",
         "relu after add", "relu before add", "init", "width multiplier", "round channels",
         "relu6", "dense blocks", "residual blocks", "growth rate", "compression",
         "preactivation", "activation", "bn eps", "inception 3×3 for 5×5"]


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
    if words in (["preactivation"], ["pre-activation"], ["full", "pre-activation"],
                 ["full", "preactivation"]):
        return replace(s, preactivation=True)
    if words in (["no", "preactivation"], ["no", "pre-activation"]):
        return replace(s, preactivation=False)
    if (later := _dense_inception(s, part, words, atoms)) is not None:
        return later
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


# ---- fire / mobile (#13c): width multiplier and its rounding -----------------------------------
def _mobile(s: Settings, words: list, atoms: tuple, part: ast.Part, params: dict | None
            ) -> Settings | None:
    """``width multiplier α``, ``round channels down`` / ``to 8``; None when the part is
    neither (``relu6`` is an activation, below)."""
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
# -- dense / inception (#13b) ----------------------------------------------------------
def _number(atoms, i: int, what: str, part: ast.Part, example: str):
    """The number at ``atoms[i]`` of a setting (a parameter is resolved later, by name)."""
    if len(atoms) != i + 1 or not isinstance(atoms[i], (ast.Num, ast.Word)):
        raise ArchError(f"'{what}' takes one number", part.span, hint=f"e.g. '{example}'")
    return atoms[i]


def _dense_inception(s: Settings, part: ast.Part, words, atoms) -> Settings | None:
    """DenseNet's and GoogLeNet's settings, or None when ``part`` is none of them.

    ``dense blocks`` / ``residual blocks``: what a bracket is (a ``Dense Block (N)`` stage
    title says ``dense blocks`` for its stage). ``growth rate k`` and ``compression θ``:
    the widths the DenseNet table leaves out. ``bn eps 0.001``; ``inception 3×3 for 5×5``
    (torchvision's GoogLeNet)."""
    if words in (["dense", "blocks"], ["dense", "block"]):
        return replace(s, blocks="dense")
    if words in (["residual", "blocks"], ["residual", "block"]):
        return replace(s, blocks="residual")
    if words[:2] == ["growth", "rate"]:
        return replace(s, growth=_number(atoms, 2, "growth rate", part, "growth rate 32"))
    if words[:1] == ["compression"]:
        return replace(s, compression=_number(atoms, 1, "compression", part, "compression 0.5"))
    if words[:2] in (["bn", "eps"], ["batchnorm", "eps"]):
        a = _number(atoms, 2, "bn eps", part, "bn eps 0.001")
        if not isinstance(a, ast.Num) or not 0 < a.value < 1:
            raise ArchError("bn eps is a small positive number", a.span, hint="e.g. 'bn eps 0.001'")
        return replace(s, bn_eps=float(a.value))
    if words[:1] == ["inception"]:
        if len(atoms) == 4 and words[2] == "for" and all(isinstance(atoms[i], ast.Dims)
                                                         for i in (1, 3)) \
                and atoms[3].values == (5, 5) and atoms[1].values[0] == atoms[1].values[1]:
            return replace(s, inception_5x5=atoms[1].values[0])
        raise ArchError("unknown inception setting", part.span,
                        hint="'inception 3×3 for 5×5' puts a 3×3 conv in the 5×5 branch "
                             "(torchvision's GoogLeNet)")
    return None


def resolve(s: Settings, numbers) -> Settings:
    """``s`` with the growth rate and compression read as numbers (they may name a family
    parameter, ``growth rate k``, known only once ``-D`` overrides are applied)."""
    if isinstance(s.growth, ast.Atom):
        s = replace(s, growth=numbers.count(s.growth, None, "growth rate"))
    if isinstance(s.compression, ast.Atom):
        theta = numbers.value(s.compression, None, "compression")
        if isinstance(theta, (list, tuple)) or not 0 < theta <= 1:
            raise ArchError(f"compression θ must be in (0, 1], not {theta}", s.compression.span,
                            hint="DenseNet-BC uses θ = 0.5; θ = 1 keeps every channel")
        s = replace(s, compression=float(theta))
    return s


# Stage titles that say what their brackets are: the DenseNet table's ``Dense Block (1)``.
TITLE_SETTINGS = {"dense block": {"blocks": "dense"}}


def for_title(s: Settings, title: str | None) -> Settings:
    """The settings of a stage printed with ``title`` (``Dense Block (1)``: dense blocks)."""
    key = " ".join(w for w in (title or "").lower().split() if not w.startswith("("))
    return replace(s, **TITLE_SETTINGS[key]) if key in TITLE_SETTINGS else s
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
