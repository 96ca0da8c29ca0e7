"""The layer vocabulary: what each word or phrase of a spec row means.

Turns AST parts (``3×3 max pool``, ``conv3-64``, ``FC-4096``, ``[1×1, 64; 3×3, 64]``) and
their modifiers (``stride 2``, ``groups 2``) into :class:`~archdsl.builder.layer.Layer` records with
resolved numbers. Which parts are modifiers, and what each does, is :mod:`archdsl.builder.modifiers`;
"did you mean" hints come from :mod:`archdsl.builder.suggest`. No shapes here: those are inferred in
:mod:`archdsl.builder.build`.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from archdsl.lang import syntax as ast
from archdsl.lang.parser import MAX_DIGITS, MAX_NUMBER
from archdsl.lang.syntax import atom_text
from archdsl.errors import ArchError, Span
from archdsl.builder.layer import Layer, at_least_one, lower_words, part_text
from archdsl.builder.modifiers import apply_modifier, modifier_span, modifies
from archdsl.builder.suggest import suggest, suggest_shaped
from archdsl.builder import mobile, mobile_rows
from archdsl.builder.blocks import ROW_KINDS
from archdsl.builder.blocks_concat import DENSE_HINT, TRANSITION_HINT, row_use
from archdsl.builder.words_blocks import (BlockExtras, read_extra, se_outside_block,
                                          spaced_width_hint, standalone_activation, width_factor)

# Words a row may start with, for "did you mean" suggestions.
VOCABULARY = ["conv", "max pool", "maxpool", "average pool", "avg pool", "global average pool",
              "adaptive average pool", "fc", "lrn", "dropout", "softmax", "soft-max", "flatten",
              "relu", "bn", "batchnorm", "stride", "padding", "groups", "bias",
              "fire", "bottleneck", "dw"]

_CONV_WORD = re.compile(r"conv(\d+)(?:x(\d+))?-(\d+)$")   # VGG's conv3-64, conv1-256, conv1x3-64
_FC_WORD = re.compile(r"fc-?(\d+)$")                     # FC-4096, fc1000


class Resolver:
    """Resolves parts to layers, given parameter values and named block definitions."""

    def __init__(self, params: dict[str, Any], blocks: dict[str, ast.BlockDef], max_repeat: int):
        self.params = params
        self.blocks = blocks
        self.max_repeat = max_repeat
        self.settings = None   # the row's settings (what a bracket is, a row kind's kernels)

    # ---- numbers ---------------------------------------------------------------------
    def value(self, atom: ast.Atom, env: dict[str, Any] | None = None, what: str = "value") -> Any:
        """The number an atom stands for (parameter and block-argument references resolved)."""
        scope = {**self.params, **(env or {})}
        if isinstance(atom, ast.Num):
            return atom.value
        if isinstance(atom, ast.Word):
            if atom.text in scope:
                return scope[atom.text]
            raise ArchError(f"unknown name '{atom.text}' where {_a(what)} was expected", atom.span,
                            hint=suggest(atom.text, list(scope), "a parameter")
                            or (f"known names: {', '.join(scope)}" if scope
                                else f"declare it first, e.g. 'param {atom.text} = 2'"))
        if isinstance(atom, ast.Index):
            seq = scope.get(atom.name)
            if seq is None:
                raise ArchError(f"unknown list parameter '{atom.name}'", atom.span,
                                hint=suggest(atom.name, list(scope), "a parameter"))
            if not isinstance(seq, (list, tuple)):
                raise ArchError(f"'{atom.name}' is a number, not a list", atom.span,
                                hint=f"write '{atom.name}' without the index")
            if not 0 <= atom.index < len(seq):
                raise ArchError(f"index {atom.index} is out of range: '{atom.name}' has "
                                f"{len(seq)} element{'s' if len(seq) != 1 else ''}", atom.span)
            return seq[atom.index]
        if isinstance(atom, ast.Product):
            out = 1
            for f in atom.factors:
                v = width_factor(self, atom, f, env, what)
                if isinstance(v, (list, tuple)):   # Python would repeat the list: 2*[1, 2]
                    raise ArchError(f"'{f.text}' is a list, not a number", f.span,
                                    hint=f"pick one element, like {f.text}[0]")
                out *= v
                if abs(out) > MAX_NUMBER:   # 20 factors of 18 digits: no count, and float() fails
                    raise ArchError(f"number too large: {atom_text(atom)} is 10^{MAX_DIGITS} or more",
                                    atom.span, hint="numbers in a spec are below 10^18")
            return out
        raise ArchError(f"expected {_a(what)} here", atom.span)

    def count(self, atom: ast.Atom, env: dict[str, Any] | None, what: str, minimum: int = 1) -> int:
        """A positive whole number (channels, repeats, strides…), with a located error otherwise."""
        v = self.value(atom, env, what)
        if isinstance(v, (list, tuple)) or (isinstance(v, float) and not v.is_integer()):
            raise ArchError(f"{what} must be a whole number, not {_show(v)}", atom.span)
        v = int(v)
        if v < minimum:
            raise ArchError(f"{what} must be at least {minimum}, not {v}", atom.span)
        return v

    # ---- layers ----------------------------------------------------------------------
    def layers(self, parts: tuple[ast.Part, ...], env: dict[str, Any] | None = None,
               settings=None, implied: bool = False, in_block: bool = False) -> list[Layer]:
        """Group a row's parts into layers (a head and the modifiers after it) and resolve them.

        ``settings`` are the row's (:class:`archdsl.builder.settings.Settings`); ``implied``:
        a conv may leave its width to its block kind (a dense layer's ``1×1 conv``)."""
        if settings is not None:
            self.settings = settings
        out: list[Layer] = []
        scope = {**self.params, **(env or {})}
        for k, part in enumerate(parts):
            bare = replace(part, repeat=None) if part.repeat is not None else part
            se_outside_block(part, parts[k + 1:])
            act = standalone_activation(bare, out)
            if act is not None:   # ``relu6`` after a block or a pool: a layer of its own
                out.append(act)
                if part.repeat is not None:
                    out[-1].repeat = self._repeat(part.repeat, env)
                continue
            if modifies(bare, scope):
                if not out:
                    raise ArchError(f"'{part_text(part)}' modifies a layer, but no layer comes before it",
                                    part.span, hint="write the layer first, e.g. '3×3, 64, stride 2'")
                apply_modifier(out[-1], bare, self, env, scope)
                if part.repeat is not None:   # ``3×3, 64 ×2``: the repeat ends the whole layer
                    if out[-1].repeat != 1:
                        raise ArchError("the layer is repeated twice", part.repeat.span)
                    out[-1].repeat = self._repeat(part.repeat, env)
                continue
            layer = self._head(part, env)
            if part.repeat is not None:
                layer.repeat = self._repeat(part.repeat, env)
            out.append(layer)
        compress = self.settings is not None and self.settings.compression is not None
        for layer in out:
            if layer.kind == "conv" and "out_channels" not in layer.attrs and not (
                    implied or compress or layer.attrs.get("depthwise")):   # dw: the input's
                raise ArchError("convolution without a channel count", layer.span,
                                hint=DENSE_HINT if in_block else TRANSITION_HINT
                                if layer.attrs["kernel"] == (1, 1)
                                else "give the number of filters, e.g. '3×3, 64'")
        return out

    def _repeat(self, atom: ast.Atom, env) -> int:
        n = self.count(atom, env, "repeat count")
        if n > self.max_repeat:   # checked before expansion: ×1000000000 fails at once
            raise ArchError(f"repeat count {n:,} exceeds the limit of {self.max_repeat:,}", atom.span,
                            hint="no real network repeats a layer that often; raise the limit "
                                 "with --max-repeat")
        return n

    def _head(self, part: ast.Part, env) -> Layer:
        if part.bracket is not None:
            return self._bracket(part.bracket, env, part.span)
        atoms = list(part.atoms)
        first = atoms[0]
        if isinstance(first, ast.Dims):
            return self._dims_head(first, atoms[1:], part, env)
        if isinstance(first, ast.FcDim):
            rest = lower_words(atoms[1:])
            if rest != ["fc"]:
                raise ArchError(f"'{first.value}-d' must be followed by 'fc'", part.span,
                                hint=f"write '{first.value}-d fc'")
            return Layer("fc", {"out_features": at_least_one("fc width", first.value, first.span)},
                         part.span)
        if isinstance(first, ast.Word):
            return self._word_head(first, atoms[1:], part, env)
        raise ArchError(f"a row item cannot start with '{part_text(part)}'", part.span,
                        hint="a number alone is a channel count and must follow a kernel, e.g. '3×3, 64'")

    def _dims_head(self, dims: ast.Dims, rest: list, part: ast.Part, env) -> Layer:
        vals = dims.values
        words = lower_words([a for a in rest if isinstance(a, ast.Word)])
        phrase = " ".join(words)
        nums = [a for a in rest if not isinstance(a, ast.Word) or a.text.lower() != "conv"]
        if layer := mobile.dims_conv(vals, phrase, part, [a for a in nums if not isinstance(
                a, ast.Word)], self, env):   # 3×3 dw, k×k×in×out (builder/mobile.py)
            return layer
        if len(vals) not in (2, 3):
            raise ArchError(f"a kernel size has two numbers (like 3×3), not {len(vals)}", dims.span)
        kernel = at_least_one("kernel size" if phrase in ("", "conv") else "window size",
                              (vals[0], vals[1]), dims.span)
        if phrase in ("", "conv"):
            layer = Layer("conv", {"kernel": kernel}, part.span)
            if len(vals) == 3:
                layer.attrs["depth"] = vals[2]   # AlexNet's 5×5×48: groups follow from the input
            if nums:
                layer.attrs["out_channels"] = self.count(nums[0], env, "channel count")
            return layer
        if len(vals) == 3:
            raise ArchError("only convolutions take a kernel depth (like 5×5×48)", dims.span)
        if phrase in ("max pool", "maxpool", "max-pool", "max pooling"):
            return Layer("maxpool", {"kernel": kernel, "stride": kernel}, part.span)
        if phrase in ("average pool", "avg pool", "avgpool", "average pooling", "avg-pool"):
            return Layer("avgpool", {"kernel": kernel, "stride": kernel}, part.span)
        raise ArchError(f"unknown layer '{part_text(part)}' after a kernel size", part.span,
                        hint=suggest(phrase, ["max pool", "average pool", "conv"], "a layer"))

    def _word_head(self, first: ast.Word, rest: list, part: ast.Part, env) -> Layer:
        word = first.text.lower()
        words = [word] + lower_words([a for a in rest if isinstance(a, ast.Word)])
        phrase = " ".join(words)
        nums = [a for a in rest if not isinstance(a, (ast.Word, ast.Dims))]
        dims = [a for a in rest if isinstance(a, ast.Dims)]
        span = part.span
        if first.text in self.blocks:
            return self._block_use(self.blocks[first.text], part, env)
        if word in ROW_KINDS and not rest:   # inception(…) (builder/blocks_concat.py)
            return row_use(ROW_KINDS[word], part, lambda a, what: self.count(a, env, what),
                           self.settings)
        # MobileNet v1's 'conv dw / s1 3×3×32 dw'; fire(…), bottleneck(…) (builder/mobile.py)
        if layer := (mobile_rows.paper_row(self, [first, *rest], part, env)
                     or mobile.block_word(self, phrase, part, env)):
            return layer
        if rest and (_CONV_WORD.match(word) or _FC_WORD.match(word)):
            extra = " ".join(a.text if isinstance(a, ast.Word)
                             else part_text(ast.Part((a,), None, None, None, a.span)) for a in rest)
            raise ArchError(f"unexpected '{extra}' after '{first.text}'", rest[0].span,
                            hint=f"'{first.text}' is a whole layer; separate layers with ','")
        if m := _CONV_WORD.match(word):
            kernel = (int(m[1]), int(m[2] or m[1]))
            at_least_one("kernel size", kernel, first.span)
            return Layer("conv", {"kernel": kernel,
                                  "out_channels": at_least_one("channel count", int(m[3]), first.span)},
                         span)
        if m := _FC_WORD.match(word):
            return Layer("fc", {"out_features": at_least_one("fc width", int(m[1]), first.span)}, span)
        if phrase in ("fc", "fully connected", "linear") and nums:
            return Layer("fc", {"out_features": self.count(nums[0], env, "fc width")}, span)
        if phrase in ("maxpool", "max pool", "max-pool"):
            k = self._kernel(dims, (2, 2))
            return Layer("maxpool", {"kernel": k, "stride": k}, span)   # VGG: 2×2, stride 2
        if phrase in ("average pool", "avg pool", "avgpool", "global average pool",
                      "global avg pool", "global pool", "avg-pool", "average-pool"):
            if dims:
                k = self._kernel(dims, None)
                return Layer("avgpool", {"kernel": k, "stride": k}, span)
            return Layer("gap", {}, span)
        if phrase in ("adaptive average pool", "adaptive avg pool", "adaptive avgpool",
                      "adaptive-avg-pool", "adaptive pool"):
            if not dims:
                raise ArchError("adaptive average pool needs an output size", span,
                                hint="e.g. 'adaptive average pool 7×7'")
            return Layer("adaptive_avgpool", {"size": self._kernel(dims, None, "output size")}, span)
        if phrase in ("lrn", "local response normalisation", "local response normalization"):
            return self._lrn(part, env)
        if phrase == "dropout":
            p = self.value(nums[0], env, "dropout ratio") if nums else 0.5
            if not 0 <= p < 1:
                raise ArchError(f"dropout ratio must be in [0, 1), not {_show(p)}", nums[0].span)
            return Layer("dropout", {"p": float(p)}, span)
        if phrase in ("softmax", "soft-max"):
            return Layer("softmax", {}, span)
        if phrase == "flatten":
            return Layer("flatten", {}, span)
        if phrase == "relu":
            return Layer("relu", {}, span)
        if phrase in ("bn", "batchnorm", "batch norm"):
            return Layer("bn", {}, span)
        if phrase in ("fc", "fully connected"):
            raise ArchError("fc without a width", span, hint="write 'FC-4096' or '1000-d fc'")
        candidates = VOCABULARY + list(self.blocks)
        if part.args is not None and not rest:   # ``basic(16)``: a use of a block never defined
            raise ArchError(f"unknown block '{first.text}'", first.span,
                            hint=suggest(first.text, list(self.blocks), "a block")
                            or f"define it first, e.g. 'block {first.text}(c) = [3×3, c; 3×3, c]'")
        raise ArchError(f"unknown layer '{part_text(part)}'", first.span,
                        hint=(not rest and suggest_shaped(first.text))
                        or suggest(phrase, candidates, "a layer") or suggest(word, candidates, "a layer")
                        or "see docs/language.md for the layer words")

    def _kernel(self, dims: list[ast.Dims], default, what: str = "window size"):
        """The (h, w) size after a pool word (``maxpool 3×3``), or ``default`` without one."""
        if not dims:
            return default
        d = dims[0]
        if len(d.values) != 2:
            raise ArchError(f"{_a(what)} has two numbers, like 3×3", d.span)
        return at_least_one(what, (d.values[0], d.values[1]), d.span)

    def _lrn(self, part: ast.Part, env) -> Layer:
        # AlexNet's constants (k=2, n=5, α=1e-4, β=0.75), which VGG's A-LRN reuses.
        attrs: dict[str, Any] = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}
        names = {"n": "size", "size": "size", "alpha": "alpha", "beta": "beta", "k": "k"}
        given: set[str] = set()
        for arg in part.args or ():
            key = names.get((arg.name or "").lower())
            if key is None:
                raise ArchError(f"LRN has no parameter '{arg.name}'" if arg.name else
                                "LRN parameters are named: LRN(k=2, n=5, alpha=1e-4, beta=0.75)",
                                arg.span, hint=suggest(arg.name or "", list(names), "a parameter"))
            if key in given:
                raise ArchError(f"LRN's {key} is given twice", arg.span, hint="keep one of them")
            given.add(key)
            v = self.value(arg.value, env, f"LRN {key}")
            if key == "size":
                v = self.count(arg.value, env, "LRN size")
            elif v <= 0 and key != "k":
                raise ArchError(f"LRN {key} must be positive", arg.span)
            attrs[key] = v if key == "size" else float(v)
        return Layer("lrn", attrs, part.span)

    def _bracket(self, bracket: ast.Bracket, env, span: Span, name=None, def_span=None) -> Layer:
        entries = []
        kind = self.settings.blocks if self.settings is not None else "residual"
        extra = BlockExtras()   # an SE row, dropout rows (#13a)
        for k, entry in enumerate(bracket.entries):
            if read_extra(self, entry, env, extra, k == len(bracket.entries) - 1, entries):
                continue
            self._no_nested_block(entry[0], name)   # before resolving: a self-use never ends
            layers = self.layers(entry, env, implied=kind == "dense", in_block=True)
            if len(layers) != 1 or layers[0].kind != "conv" or layers[0].repeat != 1:
                raise ArchError("each entry of a block is one convolution, like '3×3, 64'",
                                entry[0].span, hint=spaced_width_hint(entry)
                                or "separate the block's convolutions with ';'")
            if "stride" in layers[0].explicit:
                raise ArchError("a convolution inside a block takes no 'stride' of its own",
                                modifier_span(entry, "stride"),
                                hint="stride the whole block: write it after the bracket "
                                     "('[…], stride 2'), or pick the conv with 'with stride on 3×3'")
            extra.attach(layers[0])
            entries.append(layers[0])
        return extra.finish(Layer("block", {}, span, entries=entries, block_name=name,
                                  block_span=def_span, block_kind=kind))

    def _no_nested_block(self, head: ast.Part, name: str | None) -> None:
        """Refuse a block (or a named block's use) as an entry of a block."""
        used = head.atoms[0].text if head.atoms and isinstance(head.atoms[0], ast.Word) else None
        if used == name and name is not None:
            raise ArchError(f"block '{name}' uses itself", head.span,
                            hint="a block's entries are convolutions, like '3×3, c'")
        if used is not None and used.lower() in ROW_KINDS:
            raise ArchError(f"an {used.lower()} row is a block of its own, not an entry of one",
                            head.span, hint=f"write '{part_text(head)}(…)' without the brackets"
                            if head.args is None else "write it without the brackets")
        if head.bracket is not None or used in self.blocks:
            raise ArchError("a block cannot contain another block", head.span,
                            hint="write the convolutions in place, or put the blocks one after "
                                 "the other in a row")

    def _block_use(self, bdef: ast.BlockDef, part: ast.Part, env) -> Layer:
        args = part.args or ()
        if len(args) != len(bdef.params):
            raise ArchError(f"block '{bdef.name}' takes {len(bdef.params)} argument"
                            f"{'s' if len(bdef.params) != 1 else ''} but is given {len(args)}",
                            part.span, notes=(("the block is defined here", bdef.span),),
                            hint=f"write {bdef.name}({', '.join(bdef.params)})")
        bound: dict[str, Any] = {}
        for p, arg in zip(bdef.params, args):
            if arg.name is not None and arg.name != p:
                raise ArchError(f"block '{bdef.name}' has no parameter '{arg.name}'", arg.span,
                                hint=suggest(arg.name, list(bdef.params), "a parameter")
                                or f"write {bdef.name}({', '.join(bdef.params)})")
            bound[p] = self.value(arg.value, env, f"argument '{p}'")
        try:
            return self._bracket(bdef.body, bound, part.span, bdef.name, bdef.span)
        except ArchError as e:
            if not e.notes:
                e.notes = ((f"in block '{bdef.name}' used here", part.span),)
            raise


def _a(what: str) -> str:
    """``what`` with its indefinite article: 'a channel count', 'an argument 'c''."""
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def _show(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
