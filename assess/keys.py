"""Server-side keys held outside the database: the PIN key and what is derived from it.

A student's PIN is stored as an HMAC keyed by a server key (:mod:`assess.pins`), and a staff
user's TOTP secret is encrypted with a key derived from it (:mod:`assess.accounts.totp`). Someone
who copies the database (a backup, a dump, an SQL injection) gets neither a usable PIN nor a
second factor without this key, so it never goes into the database.

Where the keys come from (read once per process, see :func:`get_server_keys`)
-----------------------------------------------------------------------------
``INFOLIT_SERVER_KEYS``
    ``ID:KEY[,ID:KEY...]``: key ids (letters and digits) and keys (32 random bytes, URL-safe
    base64, as :func:`new_key_text` prints them). The first is the current key, used for every
    new hash; the others still verify, so a key can be rotated: put the new key first, keep the
    old one behind it until every PIN has been reissued or upgraded on login.
``INFOLIT_SERVER_KEYS_FILE``
    A file holding the same text (a mounted secret); read when the variable above is unset.
Otherwise ``server-keys`` in the data folder (``INFOLIT_DATA_DIR``), created with mode 0600 on
first use, but only for the embedded SQLite database: a PostgreSQL deployment may have app
workers on several machines, which must all hold the same key, so there it must be set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assess.exceptions import KeyConfigError
from itembank.settings import get_settings

__all__ = ["KEY_FILE_NAME", "ServerKeys", "get_server_keys", "new_key_text", "parse_keys"]

KEY_FILE_NAME = "server-keys"
"""The key file's name in the data folder (the embedded default)."""
_ID_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")


@dataclass(frozen=True)
class ServerKeys:
    """The server's keys by id; ``current`` names the one new hashes and ciphertexts use."""

    current: str
    keys: tuple[tuple[str, bytes], ...]
    source: str

    def key(self, key_id: str, purpose: str) -> bytes | None:
        """The 32-byte key for ``purpose`` (``pin``, ``totp``) derived from key ``key_id``, or ``None``.

        Each purpose gets its own key (an HMAC of the purpose under the master key), so a
        PIN MAC can never be mistaken for anything else made with the same master key.
        """
        for kid, raw in self.keys:
            if kid == key_id:
                return hmac.new(raw, f"infolit/{purpose}/v1".encode(), hashlib.sha256).digest()
        return None

    def current_key(self, purpose: str) -> bytes:
        """The current key for ``purpose``."""
        made = self.key(self.current, purpose)
        assert made is not None
        return made


def new_key_text(key_id: str = "1") -> str:
    """A fresh key line, ``ID:KEY``, for ``INFOLIT_SERVER_KEYS`` or the key file."""
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"


def parse_keys(text: str, *, source: str) -> ServerKeys:
    """Keys from ``ID:KEY[,ID:KEY...]`` (commas or new lines between them).

    Raises
    ------
    KeyConfigError
        Empty, a malformed entry, a key shorter than 16 bytes, or an id given twice.
    """
    entries = [e.strip() for e in re.split(r"[,\n]", text) if e.strip() and not e.strip().startswith("#")]
    if not entries:
        raise KeyConfigError(f"{source}: no key (expected ID:KEY, e.g. {new_key_text()})")
    keys: list[tuple[str, bytes]] = []
    for entry in entries:
        kid, sep, value = entry.partition(":")
        if not sep or not _ID_RE.match(kid):
            raise KeyConfigError(f"{source}: {entry[:12]}...: expected ID:KEY with an id of 1-8 letters or digits")
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (ValueError, TypeError):
            raise KeyConfigError(f"{source}: key {kid}: not URL-safe base64") from None
        if len(raw) < 16:
            raise KeyConfigError(f"{source}: key {kid}: {len(raw)} bytes, need at least 16 (32 recommended)")
        if any(kid == k for k, _ in keys):
            raise KeyConfigError(f"{source}: key id {kid} given twice")
        keys.append((kid, raw))
    return ServerKeys(keys[0][0], tuple(keys), source)


def _key_file(path: Path, *, create: bool) -> ServerKeys:
    if not path.exists():
        if not create:
            raise KeyConfigError(
                "no server key: set INFOLIT_SERVER_KEYS (or INFOLIT_SERVER_KEYS_FILE) to the same key on every app "
                f"worker, e.g. {new_key_text()}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: of two processes starting at once, one writes and both read the same key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(new_key_text() + "\n")
    return parse_keys(path.read_text(), source=str(path))


@lru_cache(maxsize=8)
def _load(env_keys: str | None, env_file: str | None, data_dir: str, embedded: bool) -> ServerKeys:
    if env_keys:
        return parse_keys(env_keys, source="INFOLIT_SERVER_KEYS")
    if env_file:
        path = Path(env_file).expanduser()
        if not path.exists():
            raise KeyConfigError(f"INFOLIT_SERVER_KEYS_FILE: {path} does not exist")
        return parse_keys(path.read_text(), source=str(path))
    return _key_file(Path(data_dir) / KEY_FILE_NAME, create=embedded)


def get_server_keys() -> ServerKeys:
    """The server keys of this process (see the module docstring for where they come from).

    Raises
    ------
    KeyConfigError
        No key is configured for a server database, or the configured text is malformed.
    """
    settings = get_settings()
    data_dir = settings.data_dir
    return _load(
        os.environ.get("INFOLIT_SERVER_KEYS"),
        os.environ.get("INFOLIT_SERVER_KEYS_FILE"),
        _resolved(str(data_dir), "" if data_dir.is_absolute() else os.getcwd()),
        settings.is_sqlite,
    )


@lru_cache(maxsize=8)
def _resolved(data_dir: str, cwd: str) -> str:
    """The data folder resolved (a walk of the file system: once per folder, not per login)."""
    return str((Path(cwd) / data_dir).resolve())
