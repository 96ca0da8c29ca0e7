"""Block kinds as data (archdsl/builder/blocks.py).

The residual kind must build what the hand-written ``place._block`` built before it became a
table entry: ``tests/blocks_reference.json.gz`` holds the IR of one small network under every
combination of shortcut option, ReLU placement, batchnorm and stride placement, recorded from
that code (commit 190d673) by ``python tests/test_blocks.py``. A second kind, defined only as
data here, goes through the same expander.
"""
from __future__ import annotations

import gzip
import itertools
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "golden"))
import record  # noqa: E402  (tests/golden/record.py: the IR as plain data)

REFERENCE = HERE / "blocks_reference.json.gz"

# A block keeping its input's shape (s2), a named bottleneck that downsamples by the stage's
# declared size and widens (s3), and a repeated block with an explicit stride (s4).
SPEC = """network blocks
input 3×16×16
classes 10
with {settings}
block bneck(c) = [1×1, c; 3×3, c; 1×1, 2*c]

conv1 16×16: 3×3, 8
s2    16×16: [3×3, 8; 3×3, 8]
s3      8×8: bneck(8) ×2
s4      4×4: [3×3, 32; 3×3, 32] ×2, stride 2
head    1×1: average pool, 10-d fc
"""

COMBOS = list(itertools.product(("A", "B", "C", "plain"), ("after", "before"),
                                ("batchnorm", "no batchnorm"), ("first", "1×1", "3×3")))


def settings_line(combo) -> str:
    shortcut, relu, bn, stride_on = combo
    return f"shortcut {shortcut}, relu {relu} add, {bn}, stride on {stride_on}"


def build(combo):
    import archdsl
    return archdsl.load(SPEC.format(settings=settings_line(combo)))


def reference() -> dict:
    return json.loads(gzip.decompress(REFERENCE.read_bytes()))


@pytest.mark.parametrize("combo", COMBOS, ids=settings_line)
def test_residual_kind_builds_what_place_block_built(combo):
    want = reference()[settings_line(combo)]
    got = record.ir_record(build(combo))
    assert got["nodes"] == want["nodes"]
    assert got == want


def _record() -> None:
    """Rewrite the reference from the code under test (only when a change of meaning is meant)."""
    data = {settings_line(c): record.ir_record(build(c)) for c in COMBOS}
    REFERENCE.write_bytes(gzip.compress(json.dumps(data, ensure_ascii=False).encode(), mtime=0))


if __name__ == "__main__":
    _record()
