"""`vidgate keys ...` from the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from vidgate.cli import main


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_create_list_revoke(run) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "create", "--name", "ci", "--scopes", "video,jobs", "--credits", "500",
                  "--video-seconds", "60")
    assert created.exit_code == 0, created.output
    last_line = created.output.strip().splitlines()[-1]
    assert re.fullmatch(r"sk_[0-9a-f]{64}", last_line)
    key_id = re.search(r"key_[0-9a-f]{16}", created.output).group(0)  # type: ignore[union-attr]

    sandbox = run("keys", "create", "--name", "dev", "--credits", "1", "--video-seconds", "1", "--sandbox")
    assert re.fullmatch(r"sk_test_[0-9a-f]{64}", sandbox.output.strip().splitlines()[-1])

    listed = run("keys", "list")
    assert key_id in listed.output and "live" in listed.output and "sandbox" in listed.output
    assert last_line not in listed.output  # only a prefix is ever shown
    assert last_line[:9] in listed.output

    assert run("keys", "revoke", key_id).exit_code == 0
    assert "revoked" in run("keys", "list").output
    again = run("keys", "revoke", key_id)
    assert again.exit_code != 0 and f"No active key with ID {key_id}" in again.output


def test_bad_arguments_are_refused(run) -> None:  # type: ignore[no-untyped-def]
    result = run("keys", "create", "--name", "x", "--scopes", "video,admin", "--credits", "1",
                 "--video-seconds", "1")
    assert result.exit_code == 2 and "unknown scopes: admin" in result.output
    result = run("keys", "create", "--name", "x", "--credits", "-5", "--video-seconds", "1")
    assert result.exit_code == 2
    assert run("keys", "list").output.count("\n") == 1  # header only: nothing was created
