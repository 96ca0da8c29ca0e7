"""``python -m archdsl.train {train,eval,bench} …`` — the harness without the main CLI."""
from __future__ import annotations

import argparse
import sys

from archdsl.train.commands import register


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns its exit code."""
    parser = argparse.ArgumentParser(prog="python -m archdsl.train")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
