"""Settings come from the environment and an optional vidgate.toml; the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidgate.config import Settings


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
