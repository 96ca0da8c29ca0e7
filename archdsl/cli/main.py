"""The ``archdsl`` command: argument parsing only; the work is done by the API modules.

Every failure a user can cause (:class:`ArchError`: spec errors, limits, recipes, data,
checkpoints, weights, export) prints like a compiler diagnostic and exits 2. Sub-commands
that need torch (build --export, train, eval, bench, report --verify) import it only when run.
Shared options come from :mod:`archdsl.cli.options`; each verb group registers its own
sub-commands, and none of them imports this module (no import cycles).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
import threading
from typing import Any

from archdsl import __version__

# Each verb group: the module that registers it, its registering function, its sub-commands.
# Only the group of the command being run is imported (``archdsl check`` never loads the
# build command's PyYAML, ``--help`` none of them); the others appear in ``--help`` by the
# one-line help below, which tests/test_cli_lazy.py holds equal to what each group registers.
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("archdsl.cli.core_cmd", "add_core_parsers", ("check", "show", "list")),
    ("archdsl.cli.report_cmd", "add_report_parser", ("report",)),
    ("archdsl.cli.build_cmd", "add_build_parser", ("build",)),
    ("archdsl.cli.table_cmd", "add_table_parsers", ("fmt", "table")),
    ("archdsl.cli.train_cmd", "register", ("train", "eval", "bench")),
    ("archdsl.cli.draw_cmd", "add_draw_parser", ("draw",)),
)
HELP = {
    "check": "validate specs (torch-free)",
    "show": "print the validated IR of a spec",
    "list": "list bundled networks and family members",
    "report": "parameters, MACs and FLOPs per layer, block and stage",
    "build": "compile a spec to model.py, ir.yaml, report.json",
    "fmt": "print specs in canonical form (--check, --in-place)",
    "table": "print a paper-style architecture table (torch-free)",
    "train": "train a spec",
    "eval": "evaluate a checkpoint",
    "bench": "throughput and peak memory",
    "draw": "draw specs as an SVG or a self-contained HTML page (torch-free)",
}
_ALL = object()
#: the commands that run for minutes or hours, with torch: they keep the cyclic garbage
#: collector running (the others pause it, see _main)
LONG_RUNNING = ("train", "eval", "bench")


def make_parser(command: Any = _ALL) -> argparse.ArgumentParser:
    """The argument parser. By default every sub-command is registered in full; given the
    ``command`` about to run (None: no command, e.g. ``--help``), only that command's group is
    imported and registered, the others by name and help alone."""
    parser = argparse.ArgumentParser(prog="archdsl", description="A declarative architecture "
                                     "compiler for convolutional networks.")
    parser.add_argument("--version", action="version", version=f"archdsl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module, register, commands in GROUPS:
        if command is _ALL or command in commands:
            getattr(importlib.import_module(module), register)(sub)
        else:
            for name in commands:
                sub.add_parser(name, help=HELP[name], add_help=False)
    return parser


def command_of(argv: list[str]) -> str | None:
    """The sub-command ``argv`` runs: its first word that is not an option (the top level
    takes only ``-h`` and ``--version``, which take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``archdsl`` console script."""
    try:
        return _main(argv)
    except BrokenPipeError:
        from archdsl.cli import views
        # `archdsl list | head`: the reader left; stop quietly, as cat does. Further writes
        # (the interpreter's final flush included) go nowhere instead of raising again.
        views.silence_stdout()
        return 141     # 128 + SIGPIPE, what a shell reports for a killed writer
    except KeyboardInterrupt:
        return 130     # Ctrl-C: no traceback (the command's own cleanup has run)


def run() -> None:
    """The ``archdsl`` console script and ``python -m archdsl``: :func:`main`, then exit.

    A short command (not :data:`LONG_RUNNING`) exits at once once its output is flushed,
    without the interpreter's teardown: freeing a large IR object by object is work no one
    waits for (ResNet at n = 2000: ~0.2 s after the output is complete). Nothing is left to
    clean up by then — files are written atomically and closed by the command itself."""
    code = main()
    if command_of(sys.argv[1:]) in LONG_RUNNING:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:   # the reader left during the final flush (`| head`)
        code = 141
    except (OSError, ValueError):   # stdout closed or gone: there is nothing more to say
        pass
    os._exit(code)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = make_parser(command_of(argv)).parse_args(argv)
    # imported once the arguments are good: `--help` and a usage error need none of it
    from archdsl.atomic import unwind_on_signal
    from archdsl.errors import FROM_COMMAND_LINE, ArchError
    in_main = threading.current_thread() is threading.main_thread()
    # SIGTERM (kill, torchrun, a CI timeout) unwinds for the whole command, not only
    # during a write: the command's own cleanup runs too
    previous = signal.signal(signal.SIGTERM, unwind_on_signal) if in_main else None
    wording = FROM_COMMAND_LINE.set(True)   # errors about arguments speak of -D, not load()
    # A short command builds one acyclic IR (at most the Limits' size) and exits: the cyclic
    # collector would only walk it again and again as it grows and as it is counted (ResNet at
    # n = 2000, 42k nodes: a third of `report -f json`'s time) and find nothing to free.
    collect = gc.isenabled() and args.command not in LONG_RUNNING
    if collect:
        gc.disable()
    try:
        return args.func(args)
    except ArchError as e:
        print(e.render(), file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise   # the reader left (`| head`): main() stops quietly
    except OSError as e:   # a file system refusing a write the command did not foresee
        print(f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:   # an embedding program (or pytest) gets its own handler back
        FROM_COMMAND_LINE.reset(wording)
        if collect:
            gc.enable()
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    run()
