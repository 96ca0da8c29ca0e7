"""AST -> IR: resolve names and parameters, expand repeats and blocks, infer and check shapes.

Errors are collected where they are independent (unknown words in different rows,
several wrong declared sizes) and raised together; see :func:`archdsl.errors.collect`.
What a row's words mean is :mod:`archdsl.builder.words`; placing the resolved layers as nodes, with
their shapes, is :mod:`archdsl.builder.place`; this module reads the header and checks each stage.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from archdsl.builder import expand, mobile
from archdsl.builder import params as fam
from archdsl.builder import settings as cfg
from archdsl.lang import syntax as ast
from archdsl.errors import MAX_ERRORS, COMMAND_LINE, ArchError, Span, collect
from archdsl.ir.limits import Limits, check_depth, check_graph
from archdsl.ir.graph import Graph, Stage, dims_text
from archdsl.ir.names import check_network_name, stage_name_error
from archdsl.builder.layer import Layer
from archdsl.lang.parser import paused_gc
from archdsl.lang.syntax import atom_text
from archdsl.builder.place import State, place
from archdsl.builder.suggest import suggest
from archdsl.builder.words import Resolver


def build(spec: ast.Spec, overrides: dict[str, Any] | None = None, alias: str | None = None,
          limits: Limits | None = None) -> Graph:
    """Build and validate the IR of ``spec``.

    ``overrides`` sets family parameters (as ``-D k=v``); ``alias`` picks a named member of
    the family (``alias resnet56: n = 9``). Raises :class:`ArchError` (or several as
    ``ArchErrors``) for anything wrong, located in the spec.
    """
    try:
        with paused_gc():   # the IR is acyclic: see paused_gc
            return _Builder(spec, limits or Limits()).run(dict(overrides or {}), alias)
    except ArchError as e:
        raise e.with_source(spec.source)


class _Builder:
    def __init__(self, spec: ast.Spec, limits: Limits):
        self.limits = limits
        self.spec = spec
        self.file = spec.file

    # ---- header: name, input, classes, params, settings, blocks -------------------------
    def run(self, overrides: dict[str, Any], alias: str | None) -> Graph:
        spec, errors = self.spec, []
        name = Path(self.file).stem if self.file not in ("<spec>", "<string>") else "network"
        input_dims = None
        classes_decl: tuple[int, Span] | None = None
        params: dict[str, Any] = {}
        param_spans: dict[str, Span] = {}
        aliases: dict[str, ast.Alias] = {}
        blocks: dict[str, ast.BlockDef] = {}
        settings = cfg.Settings()
        withs: list[ast.With] = []
        stages = [st for st in spec.statements if isinstance(st, ast.Stage)]
        once: dict[type, Span] = {}   # network, input and classes may each appear once
        for st in spec.statements:
            try:
                if isinstance(st, (ast.Network, ast.Input, ast.Classes)):
                    word = type(st).__name__.lower()
                    if type(st) in once:
                        raise ArchError(f"'{word}' is given twice", st.span,
                                        notes=(("first given here", once[type(st)]),),
                                        hint=f"keep one '{word}' line")
                    once[type(st)] = st.span
                if isinstance(st, ast.Network):
                    name = st.name
                elif isinstance(st, ast.Input):
                    if len(st.dims.values) != 3 or min(st.dims.values) < 1:
                        raise ArchError("the input is channels×height×width, like 3×224×224, not "
                                        f"{atom_text(st.dims)}", st.dims.span,
                                        hint=f"add the channel count: 'input 3×{atom_text(st.dims)}'"
                                        if len(st.dims.values) == 2 else None)
                    input_dims = st.dims.values
                elif isinstance(st, ast.Classes):
                    if not isinstance(st.value, ast.Num) or not isinstance(st.value.value, int) \
                            or st.value.value < 1:
                        raise ArchError(f"classes must be a positive whole number, not "
                                        f"{atom_text(st.value)}", st.value.span)
                    classes_decl = (st.value.value, st.span)
                elif isinstance(st, ast.Param):
                    if st.name in params:
                        raise ArchError(f"parameter '{st.name}' is defined twice", st.span,
                                        notes=(("first defined here", param_spans[st.name]),))
                    params[st.name] = fam.pvalue(st.value)
                    param_spans[st.name] = st.span
                elif isinstance(st, ast.Alias):
                    if st.name in aliases:
                        raise ArchError(f"alias '{st.name}' is defined twice", st.span,
                                        notes=(("first defined here", aliases[st.name].span),),
                                        hint="give each family member its own name")
                    aliases[st.name] = st
                elif isinstance(st, ast.BlockDef):
                    if st.name in blocks:
                        raise ArchError(f"block '{st.name}' is defined twice", st.span,
                                        notes=(("first defined here", blocks[st.name].span),))
                    blocks[st.name] = st
                elif isinstance(st, ast.With):
                    settings = cfg.apply(settings, st)
                    withs.append(st)
            except ArchError as e:
                errors.append(e)
        for a in aliases.values():
            for key, value, span in a.bindings:
                if key not in params and key != "classes":
                    errors.append(ArchError(f"alias '{a.name}' sets unknown parameter '{key}'", span,
                                            hint=suggest(key, list(params), "a parameter")
                                            or "declare it first, e.g. 'param n = 3'"))
                try:
                    fam.check_classes(key, fam.pvalue(value), span)
                except ArchError as e:
                    errors.append(e)
        if not spec.statements:
            errors.append(ArchError("the spec is empty", Span(self.file, 1, 1),
                                    hint="a spec needs at least an 'input' line and layer rows"))
        if input_dims is None and not errors:
            errors.append(ArchError("the spec has no input shape", Span(self.file, 1, 1),
                                    hint="add a line like 'input 3×224×224'"))
        if not stages and not errors:
            errors.append(ArchError("the spec defines no layers", Span(self.file, 1, 1),
                                    hint="add rows like 'conv1 112×112: 7×7, 64, stride 2'"))
        collect(errors)

        # the name becomes build/<name> and a class name: a file stem '..' must not reach
        # the file system (a `network` line and aliases are NAME tokens already)
        decl = next((st.span for st in spec.statements if isinstance(st, ast.Network)), None)
        check_network_name(name, decl or Span(self.file, 1, 1),
                           where="" if decl else "the network is named after its file, and ")
        defaults, family = dict(params), name
        if classes_decl is not None:
            params.setdefault("classes", classes_decl[0])
        if alias is not None:
            if alias not in aliases:
                raise ArchError(f"'{alias}' is not a member of this family",
                                Span(self.file, 1, 1), hint=suggest(alias, list(aliases), "an alias"))
            for key, value, span in aliases[alias].bindings:
                if key not in params:
                    raise ArchError(f"alias sets unknown parameter '{key}'", span,
                                    hint=suggest(key, list(params), "a parameter"))
                params[key] = fam.check_classes(key, fam.pvalue(value), span)
            name = alias
        unknown = [k for k in overrides if k not in params]
        if unknown:
            k = unknown[0]
            raise ArchError(f"unknown parameter '{k}' (from -D)", COMMAND_LINE,
                            hint=suggest(k, list(params), "a parameter")
                            or (f"this spec's parameters: {', '.join(params)}" if params
                                else "this spec has no parameters"))
        for k, v in overrides.items():
            params[k] = fam.check_classes(k, fam.check_override(k, v, params[k]),
                                          COMMAND_LINE)
        if overrides:   # an alias with a parameter changed is another member (--sweep on resnet20)
            # -D values join the name: -D d=3,-4 gives d3--4, made d3-4 (a NAME)
            name = re.sub(r"[-.]{2,}", "-", fam.member_name(family, params, defaults, aliases))
        classes = params.get("classes")
        # Again, now that -D is known: a setting may name a parameter (width multiplier alpha).
        settings = cfg.Settings()
        for st in withs:
            settings = cfg.apply(settings, st, params)
        return self._layers(name, input_dims, classes, classes_decl, params, blocks, settings, stages)

    # ---- body ------------------------------------------------------------------------
    def _layers(self, name, input_dims, classes, classes_decl, params, blocks, settings, stages) -> Graph:
        resolver = Resolver(params, blocks, self.limits.max_repeat)
        errors: list[ArchError] = []
        try:
            settings = cfg.resolve(settings, resolver)
        except ArchError as e:
            errors.append(e)
        resolved: list[tuple[ast.Stage, cfg.Settings, list[Layer], str]] = []
        seen: dict[str, Span] = {}
        stopped = False
        for i, st in enumerate(stages):
            sname = self._stage_name(st, i, len(stages), seen, errors)
            if st.size is not None and (len(st.size.values) != 2 or min(st.size.values) < 1):
                errors.append(ArchError(f"a stage's output size is height×width, like 56×56, not "
                                        f"{dims_text(st.size.values)}", st.size.span))
                st = dataclasses.replace(st, size=None)   # go on without it
            s = cfg.for_title(settings, st.title)
            layers: list[Layer] = []
            for item in st.body:
                if len(errors) >= MAX_ERRORS:   # enough to fix first; stop looking
                    stopped = True
                    break
                try:
                    if isinstance(item, ast.With):
                        s = cfg.resolve(cfg.apply(s, item, params), resolver)
                    else:   # the width multiplier scales each row's channels (builder/mobile.py)
                        layers.extend(mobile.thin(resolver.layers(item.parts, settings=s), s))
                except ArchError as e:
                    errors.append(e)
            resolved.append((st, s, layers, sname))
        collect(errors, stopped)
        check_depth([(l.repeat * (len(l.entries) + sum(map(len, l.branches)) if l.kind == "block"
                               else l.kind in ("conv", "fc")),
                      l.span) for _, _, ls, _ in resolved for l in ls], self.limits)

        fcs = [l for _, _, ls, _ in resolved for l in ls if l.kind == "fc"]
        classifier = fcs[-1] if fcs else None
        if classifier is not None:
            if classes_decl is not None and classifier.attrs["out_features"] != classes_decl[0]:
                raise ArchError(f"the classifier has {classifier.attrs['out_features']} outputs but "
                                f"the spec declares {classes_decl[0]} classes", classifier.span,
                                notes=(("classes declared here", classes_decl[1]),),
                                hint="make the last fc layer's width equal the number of classes")
            if classes is not None:
                classifier.attrs["out_features"] = int(classes)
            classes = classifier.attrs["out_features"]
        state = State("input", tuple(input_dims), tuple(input_dims))
        out_stages = []
        for st, s, layers, sname in resolved:
            first, errors_before = len(state.nodes), len(state.errors)
            counts = expand.stage_counts(layers, s)   # decides which names get numbers
            for idx, layer in enumerate(layers):
                for rep in range(layer.repeat):
                    place(layer, rep, idx == 0, st, sname, s, state, layer is classifier, counts)
            names = tuple(n.name for n in state.nodes[first:])
            if not names:
                state.errors.append(ArchError(f"stage '{sname}' has no layers", st.span,
                                              hint="write its layers after the ':' or on the next "
                                                   "lines, or remove the stage"))
                continue
            if len(state.errors) == errors_before:   # a size mismatch after a layer error is its echo
                self._check_declared(st, sname, state)
            out_stages.append(Stage(sname, st.size.values if st.size else None, names, st.span))
        collect(state.errors)
        if classifier is None and classes is not None:
            self._check_scores(state, int(classes), classes_decl)
        graph = Graph(name=name, input_shape=tuple(input_dims), num_classes=int(classes or 0),
                      nodes=tuple(state.nodes), stages=tuple(out_stages),
                      params=tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                          for k, v in params.items())),
                      settings=settings.as_tuple(), file=self.file, source=self.spec.source)
        graph.lint()   # the builder's invariants, checked once on what it made
        check_graph(graph, self.limits)
        return graph

    def _check_scores(self, state: State, classes: int, classes_decl) -> None:
        """Without an fc layer, the network's output itself must be the class scores (a
        C×1×1 map or C features, as after a 1×1 conv and a global pool)."""
        shape = state.shape
        if shape == (classes,):
            return
        last = state.nodes[-1]
        if shape[0] == classes and all(d == 1 for d in shape[1:]):   # logits must be flat
            raise ArchError(f"the network ends in a {dims_text(shape)} map, not a vector of "
                            f"{classes} class scores", last.span,
                            hint="end with 'flatten': a loss takes N×classes logits, "
                                 "not N×classes×1×1 maps")
        raise ArchError(f"the network ends in a {dims_text(shape)} "
                        f"{'map' if len(shape) == 3 else 'vector'}, not the {classes} class scores "
                        f"the spec declares", last.span,
                        notes=(("classes declared here", classes_decl[1]),) if classes_decl else (),
                        hint=f"end with a classifier, e.g. 'head: average pool, fc-{classes}'")

    def _stage_name(self, st: ast.Stage, i: int, n: int, seen: dict, errors: list) -> str:
        if st.name is None:
            sname = "head" if i == n - 1 and i > 0 else f"stage{i + 1}"
        else:
            sname = st.name.text
            if not sname.isidentifier():
                errors.append(ArchError(f"stage name '{sname}' must be an identifier "
                                        "(letters, digits, '_')", st.name.span,
                                        hint=f"e.g. '{''.join(c if c.isalnum() else '_' for c in sname)}'"))
            elif stage_name_error(sname):   # a stage is an attribute of model.py's nn.Module
                errors.append(ArchError(stage_name_error(sname), st.name.span,
                                        hint=f"rename the stage, e.g. '{sname.strip('_')}_stage'"))
        if sname in seen:
            errors.append(ArchError(f"stage '{sname}' appears twice", st.name.span if st.name else st.span,
                                    notes=(("first here", seen[sname]),),
                                    hint="give each stage its own name"))
        seen[sname] = st.name.span if st.name else st.span
        return sname

    def _check_declared(self, st: ast.Stage, sname: str, state: State) -> None:
        if st.size is None:
            return
        maps = [n for n in reversed(state.nodes) if n.stage == sname and len(n.shape) == 3]
        if not maps:
            return
        got = maps[0].shape[1:]
        want = tuple(st.size.values)
        if got != want:
            hint = None
            if got[0] > want[0] and got[0] % want[0] == 0:
                hint = f"downsample by {got[0] // want[0]}: add 'stride {got[0] // want[0]}' or a pooling layer"
            elif got[0] > want[0] and -(-got[0] // -(-got[0] // want[0])) == want[0]:
                s = -(-got[0] // want[0])   # 33→17: stride 2 rounds up
                hint = f"add 'stride {s}' ({got[0]} / {s} rounds up to {want[0]}) or a pooling layer"
            elif got[0] < want[0]:
                hint = "remove a downsampling layer, or correct the declared size"
            state.errors.append(ArchError(
                f"{sname} declares {dims_text(want)} but its output is "
                f"{dims_text(got)}", st.size.span, hint=hint))
