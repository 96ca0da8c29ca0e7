"""ir.yaml's fast paths write and read exactly what the general ones do.

- ``yamlnodes.node_lines`` (the node list without PyYAML's per-scalar machinery) is held
  byte for byte to PyYAML dumping the same document, for every bundled spec and for generated
  values of every kind a node can hold;
- ``rebuild.rebuild_from_ir`` (read by rebuilding from the carried spec) returns the graph the
  general reader returns, or None — never a different graph.
"""
from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SPECS
from archdsl import api
from archdsl.builder.rebuild import rebuild_from_ir
from archdsl.ir import yamlio
from archdsl.ir.yamlnodes import node_lines

import pytest


class _PurePython(yaml.SafeDumper):
    """The writer before the fast paths: PyYAML's pure-Python dumper, one dump per document."""


_PurePython.add_representer(yamlio._Flow, lambda d, data: d.represent_mapping(
    "tag:yaml.org,2002:map", data.items(), flow_style=True))


def _reference_dump(value) -> str:
    return yaml.dump(value, Dumper=_PurePython, sort_keys=False, default_flow_style=None,
                     allow_unicode=True, width=1000)


def _reference_document(graph) -> str:
    """The whole ir.yaml as one pure-PyYAML dump of the document graph_to_yaml describes."""
    captured = {}
    real = yamlio.node_lines

    def capture(nodes, dump):
        captured["nodes"] = nodes
        return real(nodes, dump)
    yamlio.node_lines = capture
    try:
        text = yamlio.graph_to_yaml(graph)
    finally:
        yamlio.node_lines = real
    doc = yaml.load(text, Loader=yaml.SafeLoader)
    doc["nodes"] = captured["nodes"]
    return _reference_dump(doc)


NAMES = [p.stem for p in SPECS]


@pytest.mark.parametrize("path", SPECS, ids=NAMES)
def test_written_byte_for_byte_as_pyyaml_writes_it(path):
    graph = api.load(str(path))
    assert yamlio.graph_to_yaml(graph) == _reference_document(graph)


def test_deep_family_member_written_as_pyyaml_writes_it():
    graph = api.load("resnet110")
    assert yamlio.graph_to_yaml(graph) == _reference_document(graph)


# every kind of value a node mapping can hold, including the ones PyYAML must quote
_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["null", "Null", "~", "true", "False", "yes", "NO", "on", "y", "n", ".inf",
                     ".nan", "1e3", "0x1F", "1_000", "12:30", "a: b", "a:b", "a:", "-a", "- a",
                     "#x", "x #y", "x#y", "[a]", "{a}", "a,b", "*a", "&a", "!a", "|", ">", "'",
                     '"', "@a", "`a", "%a", "é", "a b", " a", "a ", "", "=", "<<", "/abs/p.arch:1:2",
                     "./rel.arch:1:2-3:4", "conv2_x.0.conv1", "C:\\x", "a\nb", "\t", "\x85"]))
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), _text)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=4),
                   st.lists(st.lists(st.integers(0, 9), max_size=3), max_size=3))
_key = st.one_of(st.sampled_from(["name", "op", "inputs", "shape", "span"]), _text)
_node = st.builds(
    lambda fields, attrs: {**dict(fields), "attrs": yamlio._Flow(attrs)},
    st.lists(st.tuples(_key, _value), max_size=6, unique_by=lambda kv: kv[0]).filter(
        lambda kv: all(k != "attrs" for k, _ in kv)),
    st.dictionaries(_key, _value, max_size=5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_node, min_size=1, max_size=3))
def test_node_lines_equal_pyyaml_on_generated_values(nodes):
    # Against the dumper ir.yaml uses (libyaml's emitter when present): on values no IR holds,
    # libyaml and pure-Python PyYAML can differ ({'': null} vs {? '' : null}); on real IR
    # documents they agree byte for byte (the tests above).
    assert node_lines(nodes, yamlio._dump) == yamlio._dump(nodes)


def test_long_lines_are_left_to_pyyaml_which_wraps_them():
    nodes = [{"name": "cat", "inputs": [f"dense{i}.conv2" for i in range(200)],
              "attrs": yamlio._Flow({"sizes": list(range(300))})}]
    assert node_lines(nodes, yamlio._dump) == yamlio._dump(nodes) == _reference_dump(nodes)


@pytest.mark.parametrize("spec", ["resnet50", "resnet56", "vgg-a-lrn", "plain-cifar", "alexnet"])
def test_rebuilt_graph_is_the_graph_the_general_reader_returns(spec):
    text = yamlio.graph_to_yaml(api.load(spec))
    rebuilt = rebuild_from_ir(text)
    assert rebuilt is not None and rebuilt == yamlio.graph_from_yaml(text)


@pytest.mark.parametrize("edit", [
    ("momentum: 0.1", "momentum: 0.2"),            # a hand-edited attribute
    ("name: conv1.conv\n", "name: conv1.conv0\n"),   # a renamed node (inputs now dangle)
    ("source: ", "source: '# edited'\nx_source: "),  # a source that is not the file's spec
    ("num_classes: ", "num_classes: 1"),             # a document the spec does not give
])
def test_any_other_text_is_left_to_the_general_reader(edit, tmp_path):
    text = yamlio.graph_to_yaml(api.load("resnet56"))
    old, new = edit
    assert old in text
    edited = text.replace(old, new, 1)
    assert rebuild_from_ir(edited) is None
    path = tmp_path / "ir.yaml"
    path.write_text(edited)
    try:
        expected = yamlio.graph_from_yaml(edited, str(path))
    except api.ArchError as e:
        with pytest.raises(api.ArchError) as got:
            api.load(str(path))
        assert got.value.message == e.message
    else:
        assert api.load(str(path)) == expected


def test_a_slice_that_is_not_yaml_is_left_to_the_general_reader(tmp_path):
    """The fast path reads the head and the source field as slices of the text: when a slice
    is not YAML on its own, the general reader decides (here: a located 'not valid YAML')."""
    text = "format: archdsl-ir\nversion: 1\nstages:\n- x\nsource: \"unclosed\n"
    assert rebuild_from_ir(text) is None
    path = tmp_path / "ir.yaml"
    path.write_text(text)
    with pytest.raises(api.ArchError, match="not valid YAML"):
        api.load(str(path))
