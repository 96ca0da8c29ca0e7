"""The training harness's user-facing error.

It subclasses :class:`archdsl.errors.ArchError` (with no source span) so the main CLI's
existing ``except ArchError`` prints it and exits 2.
"""
from __future__ import annotations

from archdsl.errors import ArchError


class TrainError(ArchError):
    """A user error in training/eval/bench: bad recipe key, foreign checkpoint, NaN loss…"""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, None, hint)
