"""The CLI imports only what the command being run needs (issue 17: start-up time).

Each test runs the command in a fresh interpreter and lists the modules it loaded: ``check``
must not load PyYAML, rich or torch; ``--help`` none of the verb groups; the one-line help of
the groups that are not loaded is held equal to what each group registers itself.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from archdsl.cli import main as cli

HEAVY = ("yaml", "rich", "torch", "fvcore")


def _modules_after(*argv: str) -> tuple[int, set[str]]:
    code = ("import sys, json, contextlib, io\n"
            "from archdsl.cli.main import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):\n"
            "    try:\n"
            f"        rc = main({list(argv)!r})\n"
            "    except SystemExit as e:\n"
            "        rc = e.code\n"
            "print(json.dumps([rc, sorted(sys.modules)]))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    rc, modules = json.loads(done.stdout.splitlines()[-1])
    return rc, set(modules)


def _loaded(modules: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


def test_check_loads_no_yaml_rich_or_torch_and_no_other_command():
    rc, modules = _modules_after("check", "resnet50")
    assert rc == 0
    assert [h for h in HEAVY if _loaded(modules, h)] == []
    assert {m for m in modules if m.startswith("archdsl.cli.") and m.endswith("_cmd")} == \
        {"archdsl.cli.core_cmd"}


def test_help_loads_no_verb_group():
    rc, modules = _modules_after("--help")
    assert rc == 0
    assert {m for m in modules if m.startswith("archdsl.cli.") and m.endswith("_cmd")} == set()
    assert [h for h in HEAVY if _loaded(modules, h)] == []
    # nor the front end: --help is argparse and the one-line help of each command
    front = ("lark", "archdsl.lang", "archdsl.builder", "archdsl.ir", "archdsl.analysis",
             "archdsl.api", "archdsl.errors")
    assert [m for m in front if _loaded(modules, m)] == []


@pytest.mark.parametrize("argv, group", [(("report", "resnet18", "-f", "json"), "report_cmd"),
                                         (("table", "vgg16", "-f", "markdown"), "table_cmd"),
                                         (("draw", "resnet18"), "draw_cmd")])
def test_a_command_loads_its_own_group_only(argv, group):
    rc, modules = _modules_after(*argv)
    assert rc == 0
    groups = {m.rsplit(".", 1)[1] for m in modules if m.startswith("archdsl.cli.") and m.endswith("_cmd")}
    assert groups == {group}
    assert not _loaded(modules, "torch") and not _loaded(modules, "yaml")


def _registered(parser: argparse.ArgumentParser) -> dict[str, str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {c.dest: c.help for c in sub._choices_actions}


def test_the_help_table_is_what_each_group_registers():
    full = _registered(cli.make_parser())
    assert full == cli.HELP
    assert [c for _, _, cmds in cli.GROUPS for c in cmds] == list(full)


@pytest.mark.parametrize("command", [None, "check", "train", "draw"])
def test_a_lazy_parser_lists_every_command_as_the_full_one_does(command):
    assert _registered(cli.make_parser(command)) == _registered(cli.make_parser())


def test_command_of():
    assert cli.command_of(["--version"]) is None
    assert cli.command_of(["check", "-D", "n=3", "resnet-cifar"]) == "check"
    assert cli.command_of(["-h"]) is None
