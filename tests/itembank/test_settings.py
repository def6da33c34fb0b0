from __future__ import annotations

from pathlib import Path

from itembank.settings import settings_from_env


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    s = settings_from_env({"INFOLIT_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{(tmp_path / 'infolit.db').resolve()}"
    assert s.is_sqlite


def test_postgres_url_is_taken_unchanged() -> None:
    url = "postgresql+psycopg://u:p@db.example:5432/infolit"
    s = settings_from_env({"INFOLIT_DATABASE_URL": url})
    assert s.database_url == url
    assert not s.is_sqlite


def test_secret_key_and_debug_from_env() -> None:
    s = settings_from_env({"INFOLIT_SECRET_KEY": "k", "INFOLIT_DEBUG": "yes"})
    assert s.secret_key == "k"
    assert s.debug
    assert not settings_from_env({}).debug
