"""Repeated blocks are stamped from the copy before (builder.place._restamp): the graph
must be exactly the one a full expansion of every copy gives."""
from __future__ import annotations

import pytest

from archdsl.api import list_specs, load
from archdsl.builder import place
from archdsl.errors import ArchError
from archdsl.ir.limits import Limits

DEEP = Limits(max_depth=20_000)


def _both(monkeypatch, *args, **kwargs):
    """The graph built with stamping, how many copies were stamped, and the graph without."""
    stamped = []
    real = place._restamp
    monkeypatch.setattr(place, "_restamp", lambda *a: stamped.append(real(*a)) or stamped[-1])
    with_stamps = load(*args, **kwargs)
    monkeypatch.setattr(place, "STAMP", False)
    return with_stamps, sum(stamped), load(*args, **kwargs)


@pytest.mark.parametrize("name", sorted(list_specs()))
def test_every_bundled_network_is_the_same_stamped(name, monkeypatch):
    a, _, b = _both(monkeypatch, name)
    assert a == b
    assert [n.name for n in a.nodes] == [n.name for n in b.nodes]


# Every copy from the third on is stamped: a stage of k blocks stamps k - 2.
@pytest.mark.parametrize("spec, params, stamps", [
    ("resnet-cifar", {"n": 2000}, 3 * 1998),
    ("preact-resnet-cifar", {"n": 300}, 3 * 298),
    ("resnet50", {}, 1 + 2 + 4 + 1),
    ("se-resnet50", {}, 1 + 2 + 4 + 1),                   # an SE gate in every block
    ("resnext101-32x8d", {}, 1 + 2 + 21 + 1),
])
def test_deep_networks_are_stamped_and_equal(spec, params, stamps, monkeypatch):
    a, stamped, b = _both(monkeypatch, spec, limits=DEEP, **params)
    assert stamped == stamps
    assert a == b


def test_an_error_in_a_repeated_block_is_reported_as_without_stamping(monkeypatch):
    text = ("network bad\ninput 3×32×32\nclasses 10\n"
            "conv1 32×32: 3×3, 16\n"
            "conv2 32×32: [3×3, 16; 3×3, 16] ×4\n"
            "conv3 16×16: [3×3, 32; 3×3, 32] ×3\n"
            "head: average pool, 10-d fc\n")
    ok, stamped, full = _both(monkeypatch, text)
    assert ok == full and stamped == 3     # conv2's copies 2, 3 and conv3's copy 2
    bad = text.replace("conv3 16×16", "conv3 15×15")
    messages = []
    for stamp in (True, False):
        monkeypatch.setattr(place, "STAMP", stamp)
        with pytest.raises(ArchError) as e:
            load(bad)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("spec", ["resnet1202", "preact-resnet164", "se-resnext50-32x4d"])
def test_counts_of_a_stamped_graph_equal_the_full_expansions(spec, monkeypatch):
    # count() reuses a node's figures for a node sharing its attrs and shape objects, which
    # only stamped copies do: the full expansion's counts are computed node by node
    from archdsl.analysis.count import CONVENTIONS, count
    a, stamped, b = _both(monkeypatch, spec)
    assert stamped > 0
    for convention in CONVENTIONS:
        assert count(a, convention=convention) == count(b, convention=convention)
        assert count(a, (3, 64, 64), batch=3, convention=convention) == \
            count(b, (3, 64, 64), batch=3, convention=convention)
