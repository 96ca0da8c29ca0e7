"""archdsl.ir.yamlio: the IR as YAML, round trip and validation (torch-free)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from archdsl.errors import ArchError, Span
from archdsl.ir.yamlio import graph_from_yaml, graph_to_yaml, span_from_str, span_to_str
from test_count_nets import tiny_alexnet, tiny_resnet, tiny_vgg


@pytest.mark.parametrize("make", [tiny_resnet, tiny_alexnet, tiny_vgg])
def test_round_trip_gives_an_equal_graph(make):
    g = make()
    back = graph_from_yaml(graph_to_yaml(g))
    assert back == g
    assert back.source == g.source
    assert all(isinstance(n.attrs, tuple) and isinstance(n.shape, tuple) for n in back.nodes)


@pytest.mark.parametrize("span", [Span("specs/resnet50.arch", 3, 7), Span("a:b-c.arch", 12, 1, 12, 40),
                                  Span("<command line>", 1, 1)])
def test_span_round_trip(span):
    assert span_from_str(span_to_str(span)) == span


def test_io_module_does_not_import_torch():
    code = ("import sys, archdsl.ir.yamlio; sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_shapes_are_rechecked():
    text = graph_to_yaml(tiny_vgg()).replace("shape: [4, 4, 4]", "shape: [4, 5, 5]", 1)
    with pytest.raises(ArchError, match="conv1.pool: stored shape"):
        graph_from_yaml(text)


@pytest.mark.parametrize("text, message", [
    ("a: [1, 2", "not valid YAML"),
    ("name: x\n", "not an archdsl IR file"),
    ("format: archdsl-ir\nversion: 99\n", "version 99"),
    ("format: archdsl-ir\nversion: 1\nname: x\n", "malformed IR file"),
])
def test_malformed_files_are_located_errors(text, message):
    with pytest.raises(ArchError, match=message) as e:
        graph_from_yaml(text, file="net.yaml")
    assert e.value.span.file == "net.yaml"


def test_unknown_op_is_reported_at_its_node():
    text = graph_to_yaml(tiny_vgg()).replace("op: flatten", "op: flaten")
    with pytest.raises(ArchError, match="unknown op 'flaten'"):
        graph_from_yaml(text)
