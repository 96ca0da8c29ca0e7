"""``ir.yaml`` is read back by ``archdsl.load``: a hand-edited or corrupted file must give a
Graph that passes the same checks as a spec (shapes and resource limits) or an ArchError,
never another exception and never a graph over budget."""
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import archdsl
from archdsl.errors import ArchError
from archdsl.ir.yamlio import graph_from_yaml, graph_to_yaml
from archdsl.ir.limits import Limits, check_graph

SOURCES = {name: graph_to_yaml(archdsl.load(name)) for name in ("resnet20", "alexnet", "vgg-a")}


def load_yaml(text: str):
    try:
        return graph_from_yaml(text, "f.yaml")
    except ArchError as e:
        assert e.message and "error:" in e.render()
        return None


@st.composite
def mutated_ir(draw):
    text = SOURCES[draw(st.sampled_from(sorted(SOURCES)))]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["number", "delete_line", "swap_word", "insert"]))
        lines = text.split("\n")
        if kind == "number":
            nums = list(re.finditer(r"\d+", text))
            m = draw(st.sampled_from(nums))
            new = draw(st.sampled_from(["0", "-1", "1", "3", "1000000000", "1.5", "x", "[]",
                                        "{}", "null", "'7'", "[1, 2, 3]"]))
            text = text[:m.start()] + new + text[m.end():]
        elif kind == "delete_line":
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "\n".join(lines)
        elif kind == "swap_word":
            words = list(re.finditer(r"[a-z_]+", text))
            m = draw(st.sampled_from(words))
            new = draw(st.sampled_from(["conv", "fc", "add", "relu", "shape", "attrs", "inputs",
                                        "kernel", "stride", "groups", "nodes", "zzz"]))
            text = text[:m.start()] + new + text[m.end():]
        else:
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from([": ", "- ", "[", "]", "{", "\n", "&a ", "*a",
                                                    "!!python/object:os.system ", "'"])) + text[i:]
    return text


@settings(deadline=None, max_examples=400, suppress_health_check=list(HealthCheck))
@given(mutated_ir())
def test_corrupted_ir_is_a_graph_or_an_arch_error(text):
    g = load_yaml(text)
    if g is not None:
        check_graph(g, Limits())   # whatever is accepted is within the default budgets


def test_python_tags_are_refused():
    text = SOURCES["resnet20"].replace("name: resnet20", "name: !!python/object/apply:os.system ['true']", 1)
    with pytest.raises(ArchError, match="not valid YAML"):
        graph_from_yaml(text, "f.yaml")


def test_ir_file_is_held_to_the_limits(tmp_path):
    f = tmp_path / "ir.yaml"
    f.write_text(SOURCES["alexnet"])
    assert archdsl.load(str(f)).name == "alexnet"
    with pytest.raises(ArchError, match="over the limit of 1,000"):
        archdsl.load(str(f), limits=Limits(max_params=1000))
    with pytest.raises(ArchError, match="weighted layers, over the limit of 3"):
        archdsl.load(str(f), limits=Limits(max_depth=3))


def test_ir_file_refuses_parameters_at_its_location(tmp_path):
    f = tmp_path / "ir.yaml"
    f.write_text(SOURCES["resnet20"])
    with pytest.raises(ArchError, match=r"IR file, already built: parameters and aliases \(n\)") as e:
        archdsl.load(str(f), n=5)
    assert (e.value.span.file, e.value.span.line, e.value.span.col) == (str(f), 1, 1)
