"""The ``convene`` entry point itself, and the commands that wait for calendar-sync."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.cli.tests.conftest import Invoke


def test_the_console_script_answers_help() -> None:
    done = subprocess.run([sys.executable, "-m", "convene_cli", "--help"],
                          capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    for command in ("topics", "dlq", "token", "calendar", "keys"):
        assert f"  {command} " in done.stdout


@pytest.mark.parametrize("args, needs", [
    (("calendar", "resync"), "POST /connections/{id}/resync"),
    (("calendar", "resync", "--connection", "conn_1", "--all"), "provider connections"),
    (("keys", "rotate"), "python -m convene_calendar_sync keys rotate"),
    (("keys", "rotate", "--new-key-file", "k.bin"), "encrypted provider credentials"),
])
def test_calendar_sync_commands_say_they_are_not_available_and_fail(
        convene: Invoke, args: tuple[str, ...], needs: str) -> None:
    result = convene(*args)

    assert result.exit_code == 4
    assert needs in result.stderr
    assert "calendar-sync" in result.stderr and "Nothing was done." in result.stderr
    assert result.stdout == ""


def test_an_invalid_setting_is_named_and_exit_2(convene: Invoke) -> None:
    result = convene("dlq", "inspect", "meetings.events.v1",
                     env={"CONVENE_KAFKA_REQUEST_TIMEOUT_S": "soon"})

    assert result.exit_code == 2
    assert "invalid setting: CONVENE_KAFKA_REQUEST_TIMEOUT_S" in result.stderr
