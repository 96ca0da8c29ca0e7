"""``python -m archdsl``: the same as the ``archdsl`` command."""
from archdsl.cli.main import run

run()
