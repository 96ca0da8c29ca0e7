"""'Did you mean …?' hints: the closest known name to a misspelt one.

Used wherever a spec or the command line names something unknown: a layer word, a
parameter, a block, a setting, an alias, a bundled network.
"""
from __future__ import annotations

import re

# The number part of a shaped layer word, keyed by the letters that must precede it.
_SHAPED = {"conv": re.compile(r"\d+(?:x\d+)?-\d+$"), "fc": re.compile(r"-?\d+$")}
_LETTERS = re.compile(r"([A-Za-z]+)(.*)$")


def suggest(word: str, candidates: list[str], what: str) -> str | None:
    """'did you mean …?' for the closest candidate, or None."""
    if not word:
        return None
    low = {c.lower(): c for c in candidates}
    import difflib   # only on an error: kept out of every command's start-up
    close = difflib.get_close_matches(word.lower(), list(low), n=1, cutoff=0.6)
    return f"did you mean '{low[close[0]]}'?" if close else None


def suggest_shaped(word: str) -> str | None:
    """'did you mean …?' for a misspelt word that carries numbers (``cnov3-16``, ``FX-4096``,
    ``con1x1-64``): its letters are matched against ``conv``/``fc``, its numbers are kept."""
    m = _LETTERS.match(word)
    if not m:
        return None
    letters, numbers = m[1], m[2]
    fits = [w for w, shape in _SHAPED.items() if shape.match(numbers)]
    # Short words: 'fx' is as close to 'fc' as two letters get, hence the lower cutoff.
    import difflib
    close = difflib.get_close_matches(letters.lower(), fits, n=1, cutoff=0.5)
    if not close or close[0] == letters.lower():
        return None
    fixed = close[0].upper() if letters.isupper() else close[0]
    if letters[0].isupper() and not letters.isupper():
        fixed = fixed.capitalize()
    return f"did you mean '{fixed}{numbers}'?"
