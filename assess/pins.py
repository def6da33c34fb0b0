"""Student PINs: a keyed hash (HMAC-SHA256 under a server key held outside the database).

A PIN is six digits, so it has 900,000 values (none starts with a zero). No hash makes that
space large: an argon2id hash at 35 ms a try falls to one core in under ten hours per student.
What protects a PIN stored in the database is a key the database does not hold. The stored
value is ``hs1$KEYID$SALT$MAC`` with ``MAC = HMAC-SHA256(K_pin, SALT || PIN)``, ``SALT`` 16
random bytes per student and ``K_pin`` derived from the server key ``KEYID``
(:mod:`assess.keys`). Without the key, a stolen database gives an attacker nothing to test a
guess against; with the key too, a PIN falls in about a second, which is why the key stays out of
the database, its backups and its dumps. Online guessing is held off by the login throttle (a few
tries per ticket per window), not by the hash. A hash costs about two microseconds, so 50,000
students are hashed in a tenth of a second and a login wave costs the CPU nothing.

PINs hashed with argon2id (``$argon2id$...``, before this scheme) still verify;
:func:`needs_rehash` says so for them and for MACs under a key that is no longer current, and the
student login replaces such a hash with a new one after a successful login
(:func:`upgrade_pin_hash`, guarded so that it never overwrites a PIN reissued meanwhile).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlmodel import col

from assess.keys import ServerKeys, get_server_keys
from assess.models import Student

__all__ = ["PIN_SCHEME", "hash_pin", "hash_pins", "needs_rehash", "upgrade_pin_hash", "verify_pin"]

PIN_SCHEME = "hs1"
"""Prefix of a keyed PIN hash: ``hs1$KEYID$SALT$MAC`` (URL-safe base64 without padding)."""
_SALT_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, salt: bytes, pin: str) -> bytes:
    return hmac.new(key, salt + pin.encode(), hashlib.sha256).digest()


def hash_pin(pin: str, *, keys: ServerKeys | None = None) -> str:
    """The stored form of ``pin`` under the current server key (see the module docstring)."""
    keys = keys or get_server_keys()
    salt = secrets.token_bytes(_SALT_BYTES)
    return f"{PIN_SCHEME}${keys.current}${_b64(salt)}${_b64(_mac(keys.current_key('pin'), salt, pin))}"


def hash_pins(pins: Sequence[str], *, keys: ServerKeys | None = None) -> list[str]:
    """:func:`hash_pin` for many PINs (the key is derived once)."""
    keys = keys or get_server_keys()
    key, kid = keys.current_key("pin"), keys.current
    out = []
    for pin in pins:
        salt = secrets.token_bytes(_SALT_BYTES)
        out.append(f"{PIN_SCHEME}${kid}${_b64(salt)}${_b64(_mac(key, salt, pin))}")
    return out


@lru_cache(maxsize=1)
def _argon2() -> PasswordHasher:
    return PasswordHasher()  # the hash names its own parameters; these defaults only hash, never used here


def verify_pin(stored: str, pin: str, *, keys: ServerKeys | None = None) -> bool:
    """Whether ``pin`` matches ``stored`` (a keyed hash, or an argon2 hash of before).

    ``False`` for an empty or damaged hash, or a MAC under a key id this server does not hold.
    The comparison takes the same time wherever the MACs differ.
    """
    if not stored or not pin:
        return False
    if stored.startswith("$argon2"):
        try:
            return _argon2().verify(stored, pin)
        except (VerificationError, InvalidHashError):
            return False
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != PIN_SCHEME:
        return False
    keys = keys or get_server_keys()
    key = keys.key(parts[1], "pin")
    if key is None:
        return False
    try:
        salt, mac = _unb64(parts[2]), _unb64(parts[3])
    except ValueError:
        return False
    return hmac.compare_digest(mac, _mac(key, salt, pin))


def needs_rehash(stored: str, *, keys: ServerKeys | None = None) -> bool:
    """Whether a hash that verified should be replaced: argon2 (slow), or a key no longer current."""
    if stored.startswith("$argon2"):
        return True
    keys = keys or get_server_keys()
    return stored.startswith(f"{PIN_SCHEME}$") and stored.split("$")[1] != keys.current


def upgrade_pin_hash(
    conn: Connection, *, student_id: int, old_hash: str, pin: str, keys: ServerKeys | None = None
) -> bool:
    """Replace a verified student's old hash with a keyed one; ``False`` if the stored hash changed meanwhile.

    Runs in the caller's transaction. The ``WHERE pin_hash = old`` guard keeps a PIN that a
    teacher reissued between the check and this write: the new PIN stays, the old one stays dead.
    """
    result = conn.execute(
        update(Student)
        .where(col(Student.id) == student_id, col(Student.pin_hash) == old_hash)
        .values(pin_hash=hash_pin(pin, keys=keys))
    )
    return bool(result.rowcount == 1)
