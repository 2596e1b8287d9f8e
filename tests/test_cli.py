"""The CLI as a whole: help text everywhere, the demo, and `python -m ftadvisor`."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from ftadvisor.cli import cli
from tests.conftest import ROOT


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}".strip()
        found.append((path, cmd))
        if isinstance(cmd, click.Group):
            found.extend(_commands(cmd, path))
    return found


COMMANDS = _commands(cli)


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_and_option_has_help_with_an_example(path: str, cmd: click.Command) -> None:
    assert cmd.help and cmd.help.strip(), f"{path} has no help"
    if not isinstance(cmd, click.Group):
        assert "Example" in cmd.help, f"{path}: help has no example"
    for param in cmd.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help and "Example" in param.help, f"{path} {param.opts[0]}: no help with an example"


def test_python_dash_m_and_version() -> None:
    r = subprocess.run([sys.executable, "-m", "ftadvisor", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "ftadvisor" in r.stdout
