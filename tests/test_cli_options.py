"""Shared CLI options: defined once (cli/options.py) and spelled the same on every command."""
from __future__ import annotations

import argparse

import pytest

from archdsl.cli.main import make_parser
from archdsl.cli.options import LIMITS, OPTIONS, SPEC, input_shape, parse_input

# The commands that build a spec, and the shared options each must take.
EXPECTED = {
    "check": {*SPEC, "batch"}, "show": {*SPEC, "batch"}, "table": {*SPEC, "batch", "format"},
    "build": {*SPEC, "batch", "out"}, "report": {*SPEC, "input", "batch", "format"},
    "train": {*SPEC, "input", "batch", "out"}, "eval": {*SPEC, "batch", "format"},
    "bench": {*SPEC, "input", "batch", "format"},
    "draw": {*SPEC, "batch", "out", "format"},
}
# Old spellings, kept so existing scripts run, but not shown in --help.
HIDDEN = {"--input-size": "input", "--batch-size": "batch", "--json": "format"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_that_builds_a_spec_is_covered():
    assert set(EXPECTED) <= set(_subparsers()) and set(LIMITS) <= set(SPEC)
    assert set(_subparsers()) - set(EXPECTED) == {"list", "fmt"}


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_shared_options_are_the_table_s(command):
    """Each shared option has the table's flags, dest, type and help on every command, and
    no command defines one of those flags (or an old spelling) by hand."""
    parser = _subparsers()[command]
    shown = {a.dest: a for a in parser._actions if a.help is not argparse.SUPPRESS and a.option_strings}
    assert EXPECTED[command] <= set(shown), f"{command} lacks {EXPECTED[command] - set(shown)}"
    for name in EXPECTED[command]:
        action, opt = shown[name], OPTIONS[name]
        assert tuple(action.option_strings) == opt.flags
        assert action.dest == name
        assert action.type is opt.settings.get("type")
        assert action.help == opt.settings["help"]
        assert action.metavar == opt.settings.get("metavar")
    taken = {flag: name for name, opt in OPTIONS.items() for flag in opt.flags}
    for action in parser._actions:
        for flag in action.option_strings:
            if flag in taken:
                assert action.dest == taken[flag], f"{command} {flag} goes to {action.dest}"
            if flag in HIDDEN:
                assert action.dest == HIDDEN[flag] and action.help is argparse.SUPPRESS


def test_the_same_option_is_the_same_everywhere():
    """Across commands, not only against the table: one signature per shared option."""
    seen: dict[str, set] = {}
    for command, parser in _subparsers().items():
        for a in parser._actions:
            if a.dest in OPTIONS and a.help is not argparse.SUPPRESS:
                seen.setdefault(a.dest, set()).add((tuple(a.option_strings), a.type, a.help, a.metavar))
    assert set(seen) == set(OPTIONS)
    assert all(len(v) == 1 for v in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}


def test_help_shows_only_the_canonical_spellings():
    for command in EXPECTED:
        text = _subparsers()[command].format_help()
        assert not any(old in text for old in HIDDEN), command


@pytest.mark.parametrize("argv, dest, value", [
    (["bench", "s", "--input", "3×16×16"], "input", (3, 16, 16)),
    (["bench", "s", "--input", "3x16x16"], "input", (3, 16, 16)),
    (["bench", "s", "--input-size", "3x16x16"], "input", (3, 16, 16)),
    (["report", "s", "--input", "224"], "input", (224,)),
    (["train", "s", "-o", "r", "--batch-size", "64"], "batch", 64),
    (["train", "s", "--out", "r", "--batch", "64"], "out", "r"),
    (["eval", "s", "--checkpoint", "c", "--json"], "format", "json"),
    (["bench", "s", "-f", "json"], "format", "json"),
    (["table", "s", "-f", "latex"], "format", "latex"),
    (["build", "s", "-o", "d", "--batch", "2_000"], "batch", 2000),
])
def test_spellings_parse_to_the_same_value(argv, dest, value):
    assert getattr(make_parser().parse_args(argv), dest) == value


def test_defaults_are_per_command():
    p = make_parser()
    assert p.parse_args(["report", "s"]).format == "table"
    assert p.parse_args(["table", "s"]).format == "text"
    assert p.parse_args(["eval", "s", "--checkpoint", "c"]).format == "text"
    assert p.parse_args(["check", "s"]).batch is None      # each command picks its own
    assert p.parse_args(["check", "s"]).define == []


@pytest.mark.parametrize("argv", [
    ["report", "s", "--input", "3x0x4"], ["bench", "s", "--input", "big"],
    ["check", "s", "--batch", "0"], ["report", "s", "--batch", "-1"],
    ["train", "s"],                                     # --out is required for train
    ["table", "s", "--format", "json"], ["check", "s", "--max-activation", "lots"],
    ["table", "s", "--json"],                           # no hidden --json where json is no choice
])
def test_bad_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as e:
        make_parser().parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_input_keeps_the_spec_s_channels():
    assert input_shape(parse_input("224"), 3) == (3, 224, 224)
    assert input_shape(parse_input("32x48"), 1) == (1, 32, 48)
    assert input_shape(parse_input("1×32×48"), 3) == (1, 32, 48)


def test_train_input_and_batch_reach_the_recipe():
    from archdsl.cli.train_cmd import _overrides
    args = make_parser().parse_args(["train", "resnet-cifar", "-D", "n=3", "-o", "r", "--input", "24x24",
                                     "--batch", "16"])
    assert _overrides(args) == {"input_size": [3, 24, 24], "batch_size": 16}
    args = make_parser().parse_args(["eval", "s", "--checkpoint", "c", "--batch", "16"])
    assert _overrides(args, "eval_batch_size") == {"eval_batch_size": 16}


def test_readme_commands_use_flags_the_parser_knows():
    """Every flag in the README's command table exists on that command (no stale spelling),
    and the README names every shared option."""
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    parsers = _subparsers()
    rows = re.findall(r"^\| `archdsl (\w+) ([^`]*)`", readme, re.M)
    assert {c for c, _ in rows} >= set(EXPECTED)
    for command, usage in rows:
        known = {f for a in parsers[command]._actions if a.help is not argparse.SUPPRESS
                 for f in a.option_strings}
        used = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", usage))
        assert used <= known, f"{command}: {used - known}"
    for opt in OPTIONS.values():
        assert all(f"`{flag}" in readme or f"/{flag}" in readme for flag in opt.flags), opt.flags
