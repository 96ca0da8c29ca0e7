"""Where the bundled networks and recipes live, in a source checkout and in an installed wheel.

Users expect ``specs/`` and ``recipes/`` at the repository root, and that is where they stay.
A wheel cannot carry files outside its packages, so the build maps both folders into the
package as ``archdsl/_bundled/specs`` and ``archdsl/_bundled/recipes`` (see ``setup.py``).
:func:`bundled` is the one lookup that serves both layouts: the packaged copy when there is
one (a non-editable install), else the folder beside the package (a checkout, an editable
install).
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
#: The folders a wheel carries inside the package, with the files each holds.
KINDS = {"specs": "*.arch", "recipes": "*.yaml"}
PACKAGED = "_bundled"


def bundled(kind: str) -> Path:
    """The directory of bundled ``kind`` (``"specs"`` or ``"recipes"``)."""
    if kind not in KINDS:
        raise KeyError(kind)
    packaged = _PACKAGE / PACKAGED / kind
    return packaged if packaged.is_dir() else _PACKAGE.parent / kind
