"""``python -m archdsl.train {train,eval,bench} …``: the same as ``archdsl train|eval|bench …``
(one entry point, so spec errors print the same diagnostic and exit 2 either way)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``archdsl`` with ``argv`` (a train, eval or bench command); returns its exit code."""
    from archdsl.cli.main import main as cli_main
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("train", "eval", "bench"):
        print("usage: python -m archdsl.train {train,eval,bench} ...", file=sys.stderr)
        return 2
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
