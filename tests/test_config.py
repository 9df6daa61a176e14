"""Settings come from the environment and an optional vidgate.toml; the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgate.config import Settings, SettingsError, load_settings


def test_toml_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vidgate.toml").write_text(
        'data_dir = "/srv/videos"\npublic_url = "https://videos.example.com/"\nworkers = 4\n'
    )
    monkeypatch.chdir(tmp_path)
    for name in ("VIDGATE_DATA_DIR", "VIDGATE_WORKERS", "VIDGATE_PUBLIC_URL", "DATABASE_URL", "VIDGATE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VIDGATE_WORKERS", "3")
    settings = Settings()
    assert settings.data_dir == Path("/srv/videos")
    assert settings.public_url == "https://videos.example.com"
    assert settings.workers == 3
    assert settings.resolved_database_url == "sqlite+aiosqlite:////srv/videos/vidgate.db"


def test_database_urls_get_async_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/vidgate")
    assert Settings().resolved_database_url == "postgresql+asyncpg://u:p@db/vidgate"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGATE_WORKERS", "0")
    with pytest.raises(ValueError, match="workers"):
        Settings()


def test_a_wrong_value_names_its_setting_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDGATE_PORT", "eighty")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith("VIDGATE_PORT (or port in ")
    assert str(refused.value).endswith("got 'eighty'") and "\n" not in str(refused.value)


def test_a_typo_in_vidgate_toml_is_refused_with_the_setting_it_resembles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "vidgate.toml"
    config.write_text('prot = 9000\nworkers = 1\n\n[fal]\npoll_seconds = 2\n')  # tables are backends'
    monkeypatch.setenv("VIDGATE_CONFIG", str(config))
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value) == f"{config}: unknown setting 'prot' (did you mean 'port'?)"
    config.write_text('port = 9000\n\n[fal]\npoll_seconds = 2\n')
    assert load_settings().port == 9000


def test_the_command_line_prints_the_wrong_setting_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from vidgate.cli import main

    monkeypatch.setenv("VIDGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIDGATE_WORKERS", "-2")
    result = CliRunner().invoke(main, ["keys", "create", "--name", "x"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: VIDGATE_WORKERS (or workers in ")
    assert result.output.count("\n") == 1
