"""Shared test scaffolding: the repository root, the bundled spec list, torchvision's models.

These are plain names rather than fixtures because most of them feed module-level
``pytest.mark.parametrize`` lists, which are built before any fixture exists. Test modules
import them with ``from conftest import SPECS`` (pytest puts ``tests/`` on ``sys.path`` and
registers this file as the module ``conftest``, so the import finds this very module).
"""
from __future__ import annotations

import functools
import importlib
import importlib.machinery
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT / "specs"
# Dot-files are skipped as archdsl.api does: a killed `fmt --in-place` can leave a
# half-written `.name.XXXX.tmp.arch` behind.
SPECS = tuple(sorted(p for p in SPEC_DIR.glob("*.arch") if not p.name.startswith(".")))
SPEC_NAMES = tuple(p.stem for p in SPECS)
TORCHVISION_MODULES = ("resnet", "vgg", "alexnet")
# Specs whose every-spec checks (forward/backward, fvcore) run at a smaller input or on a
# smaller family member to keep the suite's CPU time small: every layer of these is
# size-independent up to the global pool, and the family's blocks are the same (#13a).
# Their own sizes are checked where it matters (params; tests/test_resfam.py).
SMALL_INPUTS = {name: (3, 64, 64) for name in (
    "resnext50-32x4d", "resnext101-32x8d", "wide-resnet50-2", "se-resnet50",
    "se-resnext50-32x4d", "preact-resnet200")}
SMALL_MEMBERS = {"preact-resnet-cifar": {"n": 2}, "preact-resnet-cifar-basic": {"n": 2}}


@functools.cache
def torchvision_models(names: tuple[str, ...] = TORCHVISION_MODULES) -> dict[str, types.ModuleType]:
    """torchvision's pure-Python model modules (``{"resnet": torchvision.models.resnet, …}``).

    With the CPU torch here ``import torchvision`` fails (its compiled ops need CUDA), so the
    package ``__init__`` files are replaced by empty namespace modules pointing at the real
    folders (REFERENCE.md). ``PathFinder`` looks at the disk, not at ``sys.modules``, so this
    works whoever imported first. Skips (with the reason) where torchvision is not installed.
    """
    if "torchvision" not in sys.modules:
        spec = importlib.machinery.PathFinder.find_spec("torchvision")
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("torchvision is not installed (pip install -e '.[test]')")
        root = spec.submodule_search_locations[0]
        for name, path in (("torchvision", root), ("torchvision.models", root + "/models")):
            pkg = types.ModuleType(name)
            pkg.__path__ = [path]
            sys.modules[name] = pkg
    return {n: importlib.import_module("torchvision.models." + n) for n in names}


def run_cli(*argv: str) -> tuple[int, str]:
    """Run ``archdsl ARGV`` in this process: its exit status (argparse usage errors included)
    and its stderr, which must hold no traceback; stdout is discarded."""
    import contextlib
    import io

    from archdsl.cli.main import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(list(argv))
        except SystemExit as e:   # argparse usage errors
            rc = e.code
    assert "Traceback" not in err.getvalue()
    return rc, err.getvalue()
