"""The training harness's user-facing error.

It subclasses :class:`archdsl.errors.ArchError`, so the main CLI prints it like every other
diagnostic and exits 2. A recipe error carries the span of the offending key in the recipe
file (and the file's text, for the caret); most others have no source line to point at.
"""
from __future__ import annotations

from archdsl.errors import ArchError, Span


class TrainError(ArchError):
    """A user error in training/eval/bench: bad recipe key, foreign checkpoint, NaN loss…"""

    def __init__(self, message: str, hint: str | None = None, span: Span | None = None,
                 source: str | None = None):
        super().__init__(message, span, hint, source=source)
