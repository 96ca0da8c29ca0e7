"""Every option that several commands share, defined once and spelled the same everywhere.

:data:`OPTIONS` is the table: per option its flags and argparse settings (type, help,
metavar) and the old spellings it still accepts without showing them in ``--help``.
A command adds what it takes with :func:`add_options`; it may choose only the ``choices``,
``default`` and ``required`` of an option, never its flags, destination, type or help
(a test walks every sub-command's parser and holds them to this table).

Values are parsed here too: ``-D name=value`` (integers or comma lists of integers, never
evaluated), ``--input CxHxW`` (``x`` or ``×``), sizes like ``64GiB``, positive counts.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any

from archdsl.errors import COMMAND_LINE, ArchError
from archdsl.ir.limits import GIB, Limits

# ASCII digits only ([0-9], not \d, which also takes ３ or ٣), at most 18 of them: the same
# bound the spec parser puts on numbers (a 5,000-digit -D value would fail in int()).
MAX_DIGITS = 18
_INT = re.compile(r"[+-]?[0-9]{1,%d}" % MAX_DIGITS)
# A decimal number: MobileNet's -D alpha=0.75 (whether a fraction is allowed where it is used
# is the builder's to say, at that place in the spec).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIZE = re.compile(r"([0-9]{1,%d}(?:\.[0-9]{1,%d})?)\s*([KMGT]i?B|B)?" % (MAX_DIGITS, MAX_DIGITS),
                   re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


# ---- value parsers -------------------------------------------------------------------------

def parse_value(text: str) -> int | float | tuple[int | float, ...]:
    """``"9"`` -> 9, ``"0.75"`` -> 0.75, ``"3,4,6,3"`` -> (3, 4, 6, 3); anything else raises
    ArchError."""
    parts = [p.strip() for p in text.split(",")]
    if not all(_NUMBER.fullmatch(p) for p in parts):
        raise ArchError(f"bad value {text[:60]!r}{'…' if len(text) > 60 else ''}: expected a "
                        "number or a comma list of numbers (ASCII digits)", COMMAND_LINE,
                        hint="for example -D n=9, -D alpha=0.75 or -D depths=3,4,6,3")
    if any(_too_large(p) for p in parts):   # 5,000 digits, 1e400
        raise ArchError(f"bad value {text[:60]!r}{'…' if len(text) > 60 else ''}: number too "
                        f"large (at most {MAX_DIGITS} digits)", COMMAND_LINE,
                        hint="for example -D n=9 or -D depths=3,4,6,3")
    values = tuple(int(p) if _INT.fullmatch(p) else float(p) for p in parts)
    return values[0] if len(values) == 1 and "," not in text else values


def _too_large(number: str) -> bool:
    """Whether a matched number has over MAX_DIGITS integer digits or is 10^18 or more."""
    if _INT.fullmatch(number):   # 18 digits at most: below 10^18 (float() would round up)
        return False
    whole = re.split(r"[.eE]", number.lstrip("+-"))[0].lstrip("0")
    return len(whole) > MAX_DIGITS or not abs(float(number)) < 10 ** MAX_DIGITS


def parse_define(text: str) -> tuple[str, int | tuple[int, ...]]:
    """``"n=9"`` -> ("n", 9); the key must be an identifier."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not _KEY.fullmatch(key):
        raise ArchError(f"bad definition {text!r}: expected NAME=VALUE", COMMAND_LINE,
                        hint="for example -D n=9")
    return key, parse_value(value)


def defines(args: argparse.Namespace) -> dict[str, int | tuple[int, ...]]:
    """The ``-D`` family parameters of a parsed command line as a dict.

    Parsed when the command runs, not by argparse, so a bad value is a located
    :class:`ArchError` (exit 2) like every other spec error."""
    out: dict[str, int | tuple[int, ...]] = {}
    for d in getattr(args, "define", None) or []:
        key, value = parse_define(d)
        if key in out:   # -D n=3 -D n=5: which one was meant?
            raise ArchError(f"-D {key} is given twice ({key}={_show(out[key])} and "
                            f"{key}={_show(value)})", COMMAND_LINE, hint=f"give -D {key} once")
        out[key] = value
    return out


def _show(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)


def parse_input(text: str) -> tuple[int, ...]:
    """``"3x224x224"`` (or ``×``) -> (3, 224, 224); ``"224x224"`` and ``"224"`` leave the
    channels (and the width) to :func:`input_shape`. Raises ArchError on anything else."""
    parts = re.split(r"[x×X,]", text.strip())
    if not all(re.fullmatch(r"[0-9]{1,%d}" % MAX_DIGITS, p) and int(p) > 0 for p in parts) \
            or not 1 <= len(parts) <= 3:   # ASCII digits, bounded: '３' and 5,000 digits refused
        raise ArchError(f"bad input size {text[:60]!r}", COMMAND_LINE,
                        hint="write it as CxHxW, e.g. 3x224x224")
    return tuple(int(p) for p in parts)


def input_shape(dims: tuple[int, ...], channels: int) -> tuple[int, int, int]:
    """Complete :func:`parse_input`'s result to (C, H, W): a lone size is square, and the
    channels default to ``channels`` (the network's own)."""
    dims = tuple(dims) * 2 if len(dims) == 1 else tuple(dims)
    return tuple([channels] * (3 - len(dims)) + list(dims))  # type: ignore[return-value]


def parse_bytes(text: str) -> int:
    """``"64GiB"``, ``"500MB"``, ``"1024"`` -> bytes; anything else is an ArchError."""
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise ArchError(f"bad memory size {text[:60]!r}", COMMAND_LINE,
                        hint="write it like 64GiB, 500MB or 1024")
    value = int(float(m[1]) * _UNITS[(m[2] or "b").lower()])
    if value < 1:   # 0 would read as "no limit" where a limit is optional: say so instead
        raise ArchError(f"memory size {text!r} is not positive", COMMAND_LINE,
                        hint="a limit is at least 1 byte, e.g. 64GiB")
    return value


def positive(text: str) -> int:
    """argparse type: a positive integer (``2000000000``, ``2_000_000_000`` or ``2e9``)."""
    plain = text.replace("_", "")
    if not re.fullmatch(r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?", plain):   # ASCII only
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text[:60]!r}")
    if len(plain) > MAX_DIGITS + 4:   # 2e9 and 2_000_000_000 pass; 10^400 does not
        raise argparse.ArgumentTypeError(f"number too large: {text[:40]!r}…")
    try:
        value = float(plain) if "e" in plain.lower() or "." in plain else int(plain)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not value < 10 ** MAX_DIGITS or value < 1 or value != int(value):   # inf: 1e400
        raise argparse.ArgumentTypeError(f"expected a positive integer below 10^{MAX_DIGITS}, "
                                         f"got {text!r}")
    return int(value)


def integer(text: str) -> int:
    """argparse type: a whole number (``--seed``, ``--steps``), ASCII digits, at most 18."""
    if not _INT.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"expected an integer of at most {MAX_DIGITS} digits, "
                                         f"got {text[:60]!r}")
    return int(text)


def finite(text: str) -> float:
    """argparse type: a finite real number (``--lr``); ``nan``, ``inf`` and 1e999 refused."""
    import math
    try:
        value = float(text) if re.fullmatch(r"[0-9eE.+-]{1,40}", text.strip()) else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text[:60]!r}")
    return value


def _argtype(parse):
    """An argparse type from a parser that raises ArchError: argparse then reports the bad
    value as a usage error (exit 2) naming the flag."""
    def convert(text: str):
        try:
            return parse(text)
        except ArchError as e:
            raise argparse.ArgumentTypeError(f"{e.message} ({e.hint})") from None
    convert.__name__ = parse.__name__
    return convert


memory_size = _argtype(parse_bytes)
input_size = _argtype(parse_input)


# ---- the table -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    """One shared option: its flags, argparse settings and hidden old spellings
    (``(flags, extra settings)``; they write to the same destination)."""
    flags: tuple[str, ...]
    settings: dict[str, Any]
    aliases: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = ()
    group: str | None = None


_LIMITS = "resource limits (checked on the IR before anything is allocated)"
_D = Limits()

OPTIONS: dict[str, Option] = {
    "define": Option(("-D", "--define"), dict(
        action="append", default=[], metavar="NAME=VALUE",
        help="set a family parameter (an integer or a comma list of integers), e.g. -D n=9")),
    "input": Option(("--input",), dict(
        type=input_size, metavar="CxHxW",
        help="input size, e.g. 3x224x224 (x or ×; 224x224 or 224 keep the spec's channels); "
             "default: the spec's"),
        aliases=((("--input-size",), {}),)),
    "batch": Option(("--batch",), dict(
        type=positive, metavar="N",
        help="batch size; the activation budget is checked at it too (default 1; bench: 64; "
             "train: the recipe's batch_size; eval: its eval_batch_size)"),
        aliases=((("--batch-size",), {}),)),
    "format": Option(("-f", "--format"), dict(help="output format (default %(default)s)"),
                     aliases=((("--json",), dict(action="store_const", const="json")),)),
    "out": Option(("-o", "--out"), dict(
        metavar="PATH", help="where to write (build: a directory, default build/<name>; "
                             "train: the run directory, required; draw: the .svg or .html file, "
                             "default stdout)")),
    "max_params": Option(("--max-params",), dict(
        type=positive, metavar="N", help=f"most learnable parameters (default {_D.max_params:,})"),
        group=_LIMITS),
    "max_depth": Option(("--max-depth",), dict(
        type=positive, metavar="N", help=f"most weighted conv/fc layers (default {_D.max_depth:,})"),
        group=_LIMITS),
    "max_repeat": Option(("--max-repeat",), dict(
        type=positive, metavar="N", help=f"largest repeat count ×N (default {_D.max_repeat:,})"),
        group=_LIMITS),
    "max_activation": Option(("--max-activation",), dict(
        type=memory_size, metavar="SIZE",
        help=f"most float32 activation memory at the batch size, e.g. 64GiB "
             f"(default {_D.max_activation_bytes // GIB} GiB)"),
        group=_LIMITS),
    "max_spec_bytes": Option(("--max-spec-bytes",), dict(
        type=memory_size, metavar="SIZE",
        help=f"largest spec file read, e.g. 1MiB (default {_D.max_spec_bytes // 2**10} KiB; "
             f"ir.yaml files: {_D.max_ir_bytes // 2**20} MiB)"),
        group=_LIMITS),
}

#: The four resource budgets, which every command that builds a spec takes together.
LIMITS = ("max_params", "max_depth", "max_repeat", "max_activation", "max_spec_bytes")
#: What every command that builds a spec takes: -D and the budgets.
SPEC = ("define", *LIMITS)
#: What a command may choose for itself; everything else comes from :data:`OPTIONS`.
_OWN = {"choices", "default", "required"}


def add_options(parser: argparse.ArgumentParser, *names: str, **own: dict[str, Any]) -> None:
    """Add the shared options ``names`` (keys of :data:`OPTIONS`) to a sub-command's parser.

    ``own`` adds options too, each with the settings a command chooses for itself, e.g.
    ``format={"choices": ("text", "json"), "default": "text"}`` or ``out={"required": True}``.
    A hidden alias is added only where it still means the same (``--json`` only where
    ``json`` is one of the choices).
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name in dict.fromkeys((*names, *own)):
        opt, mine = OPTIONS[name], own.get(name, {})
        if set(mine) - _OWN:
            raise TypeError(f"{name}: a command may set only {sorted(_OWN)}, not {sorted(set(mine) - _OWN)}")
        target: Any = parser
        if opt.group is not None:
            if opt.group not in groups:
                groups[opt.group] = parser.add_argument_group(opt.group)
            target = groups[opt.group]
        target.add_argument(*opt.flags, dest=name, **{**opt.settings, **mine})
        for flags, extra in opt.aliases:
            if extra.get("const") is not None and extra["const"] not in mine.get("choices", ()):
                continue
            settings = {k: v for k, v in opt.settings.items() if k in ("type", "action", "metavar")}
            target.add_argument(*flags, dest=name, **{**settings, **extra}, help=argparse.SUPPRESS)


def limits_from_args(args: argparse.Namespace, batch: int | None = None) -> Limits:
    """The :class:`Limits` the ``--max-*`` flags ask for, checked at ``batch`` (a training
    run passes its recipe's batch size), else at ``--batch``, else at 1."""
    d = Limits()
    return Limits(max_params=args.max_params or d.max_params,
                  max_depth=args.max_depth or d.max_depth,
                  max_repeat=args.max_repeat or d.max_repeat,
                  max_activation_bytes=args.max_activation or d.max_activation_bytes,
                  max_spec_bytes=getattr(args, "max_spec_bytes", None) or d.max_spec_bytes,
                  batch=batch if batch is not None else getattr(args, "batch", None) or 1)
