"""Build hook: the wheel carries the repository's specs/ and recipes/ inside the package.

Everything else is declared in pyproject.toml. ``specs/`` and ``recipes/`` stay at the
repository root, where users look for them; ``build_py`` copies them into the built package
as ``archdsl/_bundled/{specs,recipes}``, and :func:`archdsl.resources.bundled` finds them
there in an installed wheel (and at the root in a checkout or an editable install).
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

from_root = {"specs": "*.arch", "recipes": "*.yaml"}   # = archdsl.resources.KINDS


class BuildPyWithBundled(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return     # an editable install reads the root folders themselves
        root = Path(__file__).resolve().parent
        for kind, pattern in from_root.items():
            dst = Path(self.build_lib) / "archdsl" / "_bundled" / kind
            if dst.exists():
                shutil.rmtree(dst)    # a stale build/lib must not keep a deleted spec
            dst.mkdir(parents=True)
            for f in sorted((root / kind).glob(pattern)):
                if not f.name.startswith("."):   # a killed `fmt -i` leaves .name.tmp.arch
                    shutil.copy2(f, dst / f.name)


setup(cmdclass={"build_py": BuildPyWithBundled})
