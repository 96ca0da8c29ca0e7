"""Regression: every bundled network means what it meant before the core redesign.

Compares the IR, the counts under every convention and the lowered model (state_dict
layout, logits on a fixed seed and input) against ``tests/golden/*.json.gz``, recorded by
``tests/golden/record.py`` before the redesign started.
"""
from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import record  # noqa: E402  (tests/golden/record.py)

TARGETS = {label: (path, params) for label, path, params in record.targets()}


def golden(label: str) -> dict:
    return json.loads(gzip.decompress(record.golden_path(label).read_bytes()))


def test_every_target_has_a_golden_record():
    missing = [label for label in TARGETS if not record.golden_path(label).exists()]
    assert not missing, f"no golden record for {missing}: run tests/golden/record.py"


def _first_difference(want, got, where="") -> str | None:
    """Where two JSON-like values first differ, as a readable path (None when equal)."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got or k not in want:
                return f"{where}.{k}: {'missing' if k not in got else 'unexpected'}"
            d = _first_difference(want[k], got[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{where}: length {len(got)}, expected {len(want)}"
        for i, (a, b) in enumerate(zip(want, got)):
            d = _first_difference(a, b, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if want == got else f"{where}: {got!r}, expected {want!r}"


def _load(label: str):
    import archdsl
    path, params = TARGETS[label]
    return archdsl.load(str(path), **params)


@pytest.mark.parametrize("label", sorted(TARGETS))
def test_ir_and_counts_unchanged(label):
    from archdsl.analysis.count import count

    want = golden(label)
    graph = _load(label)
    ir = record.ir_record(graph)
    assert _first_difference(want["ir"], ir, "ir") is None, _first_difference(want["ir"], ir, "ir")
    for c in record.CONVENTIONS:
        got = json.loads(json.dumps(count(graph, convention=c).as_dict()))
        diff = _first_difference(want["counts"][c], got, f"counts[{c}]")
        assert diff is None, diff


@pytest.mark.parametrize("label", sorted(TARGETS))
def test_model_unchanged(label):
    want = golden(label)["model"]
    got = record.model_record(_load(label))
    assert got["state_dict"] == want["state_dict"]
    assert math.isclose(got["param_sum"], want["param_sum"], rel_tol=1e-9, abs_tol=1e-6)
    # Same modules, same init order, same arithmetic; only the CPU's kernels may round
    # differently from the recording machine's.
    for row_got, row_want in zip(got["logits"], want["logits"]):
        for a, b in zip(row_got, row_want):
            assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5), (a, b)
    assert math.isclose(got["logit_std"], want["logit_std"], rel_tol=1e-4)
