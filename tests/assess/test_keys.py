from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from assess import keys
from assess.exceptions import KeyConfigError
from itembank import settings


def test_keys_parse_rotate_and_derive_a_key_per_purpose() -> None:
    text = f"{keys.new_key_text('new')},\n{keys.new_key_text('old')}  # comment-free lines"
    parsed = keys.parse_keys(text.split("#")[0], source="env")
    assert parsed.current == "new" and [k for k, _ in parsed.keys] == ["new", "old"]
    assert parsed.key("old", "pin") is not None and parsed.key("gone", "pin") is None
    assert parsed.current_key("pin") != parsed.current_key("totp") != parsed.current_key("pseudonym")
    assert len(parsed.current_key("pin")) == 32


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no key"),
        ("nocolon", "expected ID:KEY"),
        ("bad id!:AAAA", "expected ID:KEY"),
        ("a:c2hvcnQ", "need at least 16"),
        ("a:!!!!", "not URL-safe base64|need at least"),
        (f"{keys.new_key_text('a')},{keys.new_key_text('a')}", "given twice"),
    ],
)
def test_a_malformed_key_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        keys.parse_keys(text, source="INFOLIT_SERVER_KEYS")


def _fresh(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name in ("INFOLIT_SERVER_KEYS", "INFOLIT_SERVER_KEYS_FILE", "INFOLIT_DATABASE_URL", "INFOLIT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings.get_settings.cache_clear()
    keys._load.cache_clear()


def test_the_embedded_default_makes_a_private_key_file_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fresh(monkeypatch, INFOLIT_DATA_DIR=str(tmp_path))
    try:
        first = keys.get_server_keys()
        path = tmp_path / keys.KEY_FILE_NAME
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        keys._load.cache_clear()
        assert keys.get_server_keys().keys == first.keys  # read back, not made again
    finally:
        _fresh(monkeypatch)


def test_a_server_database_needs_its_key_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fresh(monkeypatch, INFOLIT_DATA_DIR=str(tmp_path), INFOLIT_DATABASE_URL="postgresql+psycopg://x@h/db")
    try:
        with pytest.raises(KeyConfigError, match="set INFOLIT_SERVER_KEYS"):
            keys.get_server_keys()
        assert not (tmp_path / keys.KEY_FILE_NAME).exists()
        secret = tmp_path / "mounted"
        secret.write_text(keys.new_key_text("m") + "\n")
        _fresh(monkeypatch, INFOLIT_DATABASE_URL="postgresql+psycopg://x@h/db", INFOLIT_SERVER_KEYS_FILE=str(secret))
        assert keys.get_server_keys().current == "m"
        _fresh(monkeypatch, INFOLIT_SERVER_KEYS_FILE=str(tmp_path / "missing"))
        with pytest.raises(KeyConfigError, match="does not exist"):
            keys.get_server_keys()
    finally:
        _fresh(monkeypatch)
