"""`gateway COMMAND` imports only the module that owns COMMAND; the owner table must name every command."""

from __future__ import annotations

import argparse
import importlib

from gateway import cli


def registered(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(module).register(sub)
    return set(sub.choices)


def test_every_command_has_its_owning_module_and_no_other() -> None:
    owners = {command: module for module in cli.COMMAND_MODULES for command in registered(module)}
    assert owners == cli.COMMAND_OWNERS


def test_a_command_parses_with_only_its_module_and_an_unknown_one_lists_them_all(capsys) -> None:  # type: ignore[no-untyped-def]
    parser = cli.build_parser([cli.COMMAND_OWNERS["serve"]])
    args = parser.parse_args(["serve", "--config", "x.toml"])
    assert args.command == "serve" and args.config == "x.toml"
    try:
        cli.main(["no-such-command"])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'no-such-command'" in err and "directory" in err and "serve" in err
