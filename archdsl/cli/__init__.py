"""The ``archdsl`` command line (main.py), one module per verb group, on top of the
public API."""
