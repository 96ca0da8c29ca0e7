"""``python -m archdsl``: the same as the ``archdsl`` command."""
import sys

from archdsl.cli.main import main

sys.exit(main())
