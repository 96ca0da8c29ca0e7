"""The IR: a frozen graph of typed nodes (graph.py), the op table (ops.py), its YAML form
(yamlio.py) and the resource budgets checked on it (limits.py). Torch-free."""
from archdsl.ir.graph import Graph, Node, Shape, Stage, attrs, dims_text

__all__ = ["Graph", "Node", "Shape", "Stage", "attrs", "dims_text"]
