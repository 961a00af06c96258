"""The `ebok` command: composed from each area's `register`, none rewriting another's."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from ebok.cli import COMMAND_MODULES, build_parser, main

ROOT = Path(__file__).resolve().parents[2]

OWNERS = {
    "etl.cli": {"import", "sync", "show", "generations", "rollback"},
    "etl.demo.generate": {"demo-data"},
    "ebok.serve": {"serve"},
    "portal.accounts.cli": {"accounts"},
    "portal.panel.cli": {"staff"},
    "ebok.demo_setup": {"demo-setup"},
    "ebok.backup": {"backup", "restore"},
    "ebok.settings_cli": {"settings"},
}
ACCOUNT_ACTIONS = {
    "create",
    "list",
    "disable",
    "enable",
    "link",
    "unlink",
    "set-email",
    "reset",
    "reset-password",
    "close",
    "purge",
    "mail-retry",
}


def subparsers_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def alone(module: str) -> dict[str, argparse.ArgumentParser]:
    """The commands `module` registers into a parser of its own."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(module).register(sub)
    return subparsers_of(parser)


def shape(parser: argparse.ArgumentParser) -> object:
    """What a command parser accepts and runs, nested commands included."""
    options = sorted((tuple(a.option_strings), a.dest, a.required) for a in parser._actions)
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    children = {n: shape(p) for a in nested for n, p in a.choices.items()}
    return options, sorted(parser._defaults.items(), key=lambda kv: kv[0], reverse=False), children


def test_each_command_is_registered_by_one_module_and_left_as_it_registered_it():
    assert set(COMMAND_MODULES) == set(OWNERS)
    everything = subparsers_of(build_parser())
    assert set(everything) == set().union(*OWNERS.values())
    for module, commands in OWNERS.items():
        own = alone(module)
        assert set(own) == commands, module
        for name in commands:
            assert shape(everything[name]) == shape(own[name]), name


def test_every_accounts_action_has_a_handler_of_its_own_module():
    actions = subparsers_of(subparsers_of(build_parser())["accounts"])
    assert set(actions) == ACCOUNT_ACTIONS
    for name, parser in actions.items():
        handler = parser.get_default("accounts_action")
        assert handler.__module__ == "portal.accounts.cli", name


def test_reset_password_is_the_reset_action():
    actions = subparsers_of(subparsers_of(build_parser())["accounts"])
    assert actions["reset-password"].get_default("accounts_action") is actions[
        "reset"
    ].get_default("accounts_action")


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("command", "not_imported"),
    [
        ("import", ("portal", "xhtml2pdf")),
        ("serve", ("portal", "ebok.demo_setup")),  # the app is built only to serve
        ("settings", ("xhtml2pdf",)),  # the PDF stack waits for a letter to be asked for
    ],
)
def test_only_the_modules_up_to_the_command_are_imported(command, not_imported):
    code = (
        "import sys; from ebok.cli import build_parser; build_parser(sys.argv[1]); "
        "print(' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in not_imported:
        assert not [m for m in out if m == name or m.startswith(name + ".")], name
