"""`kernelnet --help` pages: snapshots, and the rules every page follows.

A changed help text fails `test_help_matches_snapshot`; after checking the new text, rewrite the
snapshots with `KERNELNET_UPDATE_SNAPSHOTS=1 pytest tests/test_cli_help.py`.
"""

import argparse
import os
import pathlib

import pytest

from kernelnet import cli

SNAPSHOTS = pathlib.Path(__file__).parent / "snapshots"
COMMANDS = ["", "train", "evaluate", "predict", "summary", "inspect"]


def help_text(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")           # argparse wraps to $COLUMNS
    assert cli.main([command, "--help"] if command else ["--help"]) == 0
    text = capsys.readouterr().out
    return text.replace("optional arguments:", "options:")   # Python 3.10's heading


@pytest.mark.parametrize("command", COMMANDS)
def test_help_matches_snapshot(command, capsys, monkeypatch):
    text = help_text(command, capsys, monkeypatch)
    path = SNAPSHOTS / f"cli_help_{command or 'kernelnet'}.txt"
    if os.environ.get("KERNELNET_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_description_examples_and_defaults(command, capsys, monkeypatch):
    text = help_text(command, capsys, monkeypatch)
    description = text.split("\n\n")[1]
    assert len(description.split()) >= 8 and description.rstrip().endswith(".")
    assert "\nexamples:\n  kernelnet " in text
    if command == "train":
        for default in ("--batch-size N        samples per gradient step (default: 32)",
                        "(default: adam)", "(default: 0)", "(default: 5;"):
            assert default in " ".join(text.split("\n")) or default in text, default


def _subparsers():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser, *sub.choices.values()]


@pytest.mark.parametrize("parser", _subparsers(), ids=lambda p: p.prog)
def test_every_flag_has_a_help_line(parser):
    for action in parser._actions:
        assert action.help, f"{parser.prog} {action.option_strings or action.dest} has no help"
