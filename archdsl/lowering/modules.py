"""The lowered network: modules named by IR names, forwards compiled from the graph by torch.fx.

Every IR node is a module at its dotted name (``conv2_x.0.conv1``) inside namespace modules
for the stages (:class:`Stage`), blocks (:class:`Block`) and dotted sub-groups such as a
projection ``shortcut`` (:class:`Group`), so ``state_dict`` keys, fvcore's per-module
figures and the count report speak the same language. The forwards are ``torch.fx`` graphs,
one call per IR node wired by its ``inputs``, turned into Python source once (as
``fx.GraphModule`` does): no graph interpretation at run time, any DAG (parallel branches,
concatenation, gates, a tensor read by several layers), and ``torch.compile`` /
``torch.export`` trace plain straight-line code.
"""
from __future__ import annotations

import hashlib
import linecache
from typing import Callable, Iterable

import torch
from torch import fx, nn

from archdsl.errors import ArchError
from archdsl.ir.graph import Graph, Node
from archdsl.lowering.layers import Add, PadShortcut  # noqa: F401  (re-exported)
from archdsl.lowering.torch_ops import head_start


class Group(nn.Module):
    """A namespace of layers named after the spec. ``group[j]`` is the child named ``"j"``
    (``model.conv2_x[0]`` is block ``conv2_x.0`` even when a pool precedes the blocks).

    A group is not called: the network's forward calls its layers directly, following the
    graph, so a group need not be a chain.
    """

    def __getitem__(self, idx: int | str) -> nn.Module:
        key = str(idx)
        if key not in self._modules:
            raise IndexError(f"{type(self).__name__} has no child {key!r}; it has "
                             f"{', '.join(self._modules)}")
        return self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def forward(self, *args):
        raise ArchError(f"a {type(self).__name__.lower()} is a namespace of layers, not a chain "
                        "to call", hint="call the network, or forward_stages / forward_features")


class Stage(Group):
    """A stage of the paper's table: its layers (``pool``) and blocks (``0``, ``1``…)."""


class Block(Group):
    """A block of a stage: its layers under their local names (``conv1``, ``shortcut``, ``add``…)."""


Forward = Callable[..., object]


class Network(nn.Module):
    """A lowered spec: one :class:`Stage` child per stage, named as in the spec.

    ``forward`` returns logits (the spec's soft-max is the loss's job). ``forward_features``
    stops where the head begins (the first global pool / flatten / fc at stage level) and
    returns the last feature map; ``forward_head`` does the rest; ``forward_stages`` returns
    every stage's output. ``graph`` is the IR it was built from; ``input_shape`` = (C, H, W);
    ``code`` is the generated source of ``forward``; :meth:`graph_module` gives the same
    forward as an ``fx.GraphModule`` sharing these weights (for fx passes).
    """

    def __init__(self, graph: Graph, layers: Iterable[tuple[Node, nn.Module]]):
        super().__init__()
        for node, module in layers:
            _install(self, node, module)
        self.graph = graph
        self.name = graph.name
        self.input_shape = tuple(graph.input_shape)
        self.num_classes = graph.num_classes
        self._compile()

    def _compile(self) -> None:
        # forward now (torch.compile must find it ready); the others on first use
        self._fns: dict[str, Forward] = {}
        self._fn("forward")

    def _fn(self, kind: str) -> Forward:
        fn = self._fns.get(kind)
        if fn is None:
            fn = self._fns[kind] = _python(fx_graph(self.graph, kind), f"{self.name}.{kind}")
        return fn

    # compiled functions are not picklable: drop them (deepcopy, torch.save) and rebuild
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_fns"]
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._compile()

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The stages in order, as named in the spec."""
        return tuple(s.name for s in self.graph.stages)

    @property
    def code(self) -> str:
        """The Python source of :meth:`forward`, as torch.fx wrote it."""
        return fx_graph(self.graph, "forward").python_code("self").src

    def graph_module(self) -> fx.GraphModule:
        """:meth:`forward` as an ``fx.GraphModule`` over these very modules (shared weights)."""
        return fx.GraphModule(self, fx_graph(self.graph, "forward"), type(self).__name__)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fns["forward"](self, x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The network up to (not including) the head: the last spatial feature map."""
        return self._fn("features")(self, x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """The head alone, on the output of :meth:`forward_features`."""
        return self._fn("head")(self, x)

    def forward_stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every stage's output by stage name, in order (for backbone / feature-pyramid use)."""
        return self._fn("stages")(self, x)


def _install(root: nn.Module, node: Node, module: nn.Module) -> None:
    """Register ``module`` at ``node.name``, creating the stage/block/group namespaces on
    the way (in first-use order, so ``state_dict`` lists keys in IR order)."""
    *path, leaf = node.name.split(".")
    parent, prefix = root, ""
    for part in path:
        prefix = f"{prefix}.{part}" if prefix else part
        child = parent._modules.get(part)
        if child is None:
            kind = Stage if parent is root else Block if prefix == node.block else Group
            child = kind()
            parent.add_module(part, child)
        elif not isinstance(child, Group):
            raise ArchError(f"{node.name}: {prefix!r} is a layer, so it cannot hold another",
                            node.span, hint="give the layers distinct names")
        parent = child
    if leaf in parent._modules:
        raise ArchError(f"{node.name}: two layers have this name", node.span)
    parent.add_module(leaf, module)


def fx_graph(graph: Graph, kind: str) -> fx.Graph:
    """The fx graph of one of a network's forwards: ``forward`` (input → logits),
    ``features`` (input → the head's input), ``head`` (features → logits) or ``stages``
    (input → {stage: output})."""
    if kind == "forward":
        return _fx_graph(graph.nodes, "input", lambda env: env[graph.output])
    if kind == "stages":
        last = {s.name: s.nodes[-1] for s in graph.stages if s.nodes}
        return _fx_graph(graph.nodes, "input", lambda env: {s: env[n] for s, n in last.items()})
    start = head_start(graph)
    split = graph.nodes.index(start) if start is not None else len(graph.nodes)
    features = start.inputs[0] if start is not None else graph.output
    if kind == "features":
        return _fx_graph(graph.nodes[:split], "input", lambda env: env[features])
    head = graph.nodes[split:]
    inside = {features, *(n.name for n in head)}
    outside = next((i for n in head for i in n.inputs if i not in inside), None)
    if outside is not None:
        raise ArchError(f"{graph.name}: the head reads {outside!r} besides the features, so it "
                        "cannot run on the features alone", hint="call the network itself")
    return _fx_graph(head, features, lambda env: env[graph.output])


def _fx_graph(nodes: tuple[Node, ...], source: str, result) -> fx.Graph:
    """One ``call_module`` per node, at its IR name, on the values its ``inputs`` name;
    ``source`` is the IR name the one placeholder ``x`` stands for."""
    g = fx.Graph()
    env: dict[str, fx.Node] = {source: g.placeholder("x")}
    for n in nodes:
        missing = [i for i in n.inputs if i not in env]
        if missing:
            raise ArchError(f"{n.name} reads {missing[0]!r}, which is not an earlier layer",
                            n.span, hint="an IR node's inputs name layers before it")
        env[n.name] = g.call_module(n.name, tuple(env[i] for i in n.inputs))
    g.output(result(env))
    return g


def _python(g: fx.Graph, label: str) -> Forward:
    """Compile an fx graph's code into a function ``(module, x) -> value`` (fx writes it
    against ``self``); the source is registered with linecache so tracebacks show it."""
    code = g.python_code("self")
    digest = hashlib.sha1(code.src.encode()).hexdigest()[:12]
    filename = f"<archdsl {label} {digest}>"
    linecache.cache[filename] = (len(code.src), None, code.src.splitlines(True), filename)
    namespace = dict(code.globals)
    exec(compile(code.src, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["forward"]
