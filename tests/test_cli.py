"""The `qingling` command as a newcomer first meets it."""
from __future__ import annotations

import logging

from click.testing import CliRunner

from handlers.cli import main


def test_help_lists_our_commands_only_and_builds_no_app(caplog):
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert {"demo", "posters", "worker", "run", "doctor", "users"} <= {
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    for flask_own in ("--app", "--env-file", "--debug", "routes", "shell", "limiter"):
        assert flask_own not in result.output
    assert caplog.records == []  # no "QINGLING_SECRET_KEY is not set" from building the app
