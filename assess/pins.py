"""Test tickets and PINs: drawing them, hashing the PINs (a keyed hash), checking a PIN.

Every new student gets a test ticket (准考证号): ten digits, nine drawn at random with
:mod:`secrets` (never sequential, so one ticket does not reveal its neighbours) and a final Luhn
check digit so a mistyped ticket is caught before any lookup (:func:`ticket_is_well_formed`).
The second login factor is a six-digit PIN, also drawn with :mod:`secrets`. Neither starts with
a zero, so a spreadsheet cannot drop a leading digit.

The PIN hash and its threat model
---------------------------------
**The PIN is never stored in clear.** A PIN has 900,000 values, so no hash makes guessing it
expensive: argon2id at OWASP's minimum (35 ms a try here) falls to one core in under ten hours
per student, while it costs 29 CPU-minutes to register 50,000 students and makes a wave of 500
logins queue for seconds. What protects a stored PIN is a key the database does not hold. The
stored value is ``hs1$KEYID$SALT$MAC`` with ``MAC = HMAC-SHA256(K_pin, SALT || PIN)``, ``SALT``
16 random bytes per student and ``K_pin`` derived from the server key ``KEYID``
(:mod:`assess.keys`, set outside the database: an environment variable or a mounted file).

- A stolen database, dump or backup without the key gives nothing to test a guess against:
  offline guessing is impossible, not merely slow.
- With the key as well (the app server itself is taken), every PIN falls in about a second; no
  hash would have held either (see above). So the key never goes into the database or its dumps.
- Online guessing is held off by the login throttle (a few tries per ticket per window, counted
  in the database for every worker), and a PIN is only good together with its ticket.

A hash costs about two microseconds, so hashing is a negligible part of registering 50,000
students and of a login wave (``bench/register.py``, ``bench/load.py --login-wave``).

PINs hashed with argon2id before this scheme (``$argon2id$...``) still verify, and
:func:`needs_rehash` says so for them and for MACs under a key that is no longer current; the
student login then stores a keyed hash (:func:`upgrade_pin_hash`, guarded so that it never
overwrites a PIN reissued meanwhile). :data:`LEGACY_PIN_HASH_PARAMETERS` are the argon2id
parameters those hashes were made with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from assess.keys import ServerKeys, get_server_keys
from assess.models import Student

__all__ = [
    "CHUNK",
    "LEGACY_PIN_HASH_PARAMETERS",
    "PIN_SCHEME",
    "KeyedPinHasher",
    "PinHasher",
    "Progress",
    "chunks",
    "dummy_pin_hash",
    "hash_pin",
    "hash_pins",
    "is_legacy_hash",
    "needs_rehash",
    "new_pin",
    "new_ticket",
    "pin_hasher",
    "ticket_is_well_formed",
    "unique_tickets",
    "upgrade_pin_hash",
    "verify_pin",
]

PIN_SCHEME = "hs1"
"""Prefix of a keyed PIN hash: ``hs1$KEYID$SALT$MAC`` (URL-safe base64 without padding)."""
LEGACY_PIN_HASH_PARAMETERS: dict[str, Any] = {"type": Type.ID, "time_cost": 2, "memory_cost": 19456, "parallelism": 1}
"""argon2id, 2 passes over 19 MiB, one lane: what PINs were hashed with before the keyed scheme."""
CHUNK = 900
"""Values per ``IN (...)`` list, below every driver's parameter limit."""
_SALT_BYTES = 16

Progress = Callable[[int, int], None]
"""Called as PINs are hashed, with the number hashed so far and the total."""


class PinHasher(Protocol):
    """Anything that turns a PIN into its stored form (the keyed hasher; tests may pass argon2)."""

    def hash(self, password: str, /) -> str:
        """The stored form of ``password``."""
        ...


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``values`` in slices of :data:`CHUNK` (for ``IN (...)`` lists)."""
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


# ============================================================================================ tickets
def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def new_ticket() -> str:
    """A random ticket: nine random digits (no leading zero) and a Luhn check digit."""
    body = str(secrets.randbelow(9 * 10**8) + 10**8)
    return body + _luhn_digit(body)


def ticket_is_well_formed(ticket: str) -> bool:
    """Whether ``ticket`` has ten digits and a correct check digit (a cheap test before any lookup)."""
    return len(ticket) == 10 and ticket.isdigit() and _luhn_digit(ticket[:-1]) == ticket[-1]


def new_pin() -> str:
    """A random six-digit PIN (100000-999999: no leading zero for a spreadsheet to drop)."""
    return str(secrets.randbelow(9 * 10**5) + 10**5)


def unique_tickets(session: Session, n: int) -> list[str]:
    """``n`` new tickets, distinct from each other and from every stored ticket."""
    chosen: set[str] = set()
    while len(chosen) < n:
        candidates = {new_ticket() for _ in range(n - len(chosen))} - chosen
        taken: set[str] = set()
        for chunk in chunks(sorted(candidates)):
            taken.update(session.exec(select(Student.ticket).where(col(Student.ticket).in_(chunk))).all())
        chosen |= candidates - taken
    return list(chosen)


# ============================================================================================ hashing
def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, salt: bytes, pin: str) -> bytes:
    return hmac.new(key, salt + pin.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class KeyedPinHasher:
    """The keyed PIN hash under the current server key (see the module docstring)."""

    keys: ServerKeys

    def hash(self, password: str, /) -> str:
        """``hs1$KEYID$SALT$MAC`` for the PIN ``password``."""
        salt = secrets.token_bytes(_SALT_BYTES)
        mac = _mac(self.keys.current_key("pin"), salt, password)
        return f"{PIN_SCHEME}${self.keys.current}${_b64(salt)}${_b64(mac)}"


def pin_hasher(keys: ServerKeys | None = None) -> KeyedPinHasher:
    """The default PIN hasher: keyed, under this process's server keys (or ``keys``)."""
    return KeyedPinHasher(keys or get_server_keys())


def hash_pin(pin: str, *, keys: ServerKeys | None = None) -> str:
    """The stored form of one PIN under the current server key."""
    return pin_hasher(keys).hash(pin)


def hash_pins(pins: Sequence[str], hasher: PinHasher, progress: Progress | None) -> list[str]:
    """Hash PINs in order: keyed ones in a loop (microseconds each), any other hasher on a thread pool."""
    if not pins:
        return []
    if isinstance(hasher, KeyedPinHasher):
        hashes = [hasher.hash(p) for p in pins]
        if progress is not None:
            progress(len(hashes), len(pins))
        return hashes
    workers = max(1, min(len(pins), os.cpu_count() or 1))
    hashes = []
    with ThreadPoolExecutor(max_workers=workers) as pool:  # argon2 releases the GIL while it works
        for h in pool.map(hasher.hash, pins):
            hashes.append(h)
            if progress is not None:
                progress(len(hashes), len(pins))
    return hashes


@lru_cache(maxsize=1)
def dummy_pin_hash() -> str:
    """A keyed hash of a random PIN nobody knows (once per process, under the current key).

    The login checks a PIN against it when the ticket is unknown (or has no PIN), so that an
    unknown ticket costs the same verification as a wrong PIN and cannot be told apart by its
    timing.
    """
    return hash_pin(secrets.token_hex(16))


@lru_cache(maxsize=1)
def _argon2() -> PasswordHasher:
    return PasswordHasher(**LEGACY_PIN_HASH_PARAMETERS)  # verifying reads the parameters from the hash


def is_legacy_hash(pin_hash: str) -> bool:
    """Whether ``pin_hash`` is an argon2 hash of before the keyed scheme (slow to verify)."""
    return pin_hash.startswith("$argon2")


def verify_pin(pin_hash: str, pin: str, *, keys: ServerKeys | None = None) -> bool:
    """Whether ``pin`` matches the stored ``pin_hash`` (keyed, or argon2 from before).

    ``False`` for an empty PIN, an empty or damaged hash, or a MAC under a key id this server
    does not hold. The MACs are compared in constant time.
    """
    if not pin_hash or not pin:
        return False
    if is_legacy_hash(pin_hash):
        try:
            return _argon2().verify(pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False
    parts = pin_hash.split("$")
    if len(parts) != 4 or parts[0] != PIN_SCHEME:
        return False
    key = (keys or get_server_keys()).key(parts[1], "pin")
    if key is None:
        return False
    try:
        salt, mac = _unb64(parts[2]), _unb64(parts[3])
    except ValueError:
        return False
    return hmac.compare_digest(mac, _mac(key, salt, pin))


def needs_rehash(pin_hash: str, *, keys: ServerKeys | None = None) -> bool:
    """Whether a hash that verified should be replaced: argon2 (slow), or a key no longer current."""
    if is_legacy_hash(pin_hash):
        return True
    parts = pin_hash.split("$")
    return len(parts) == 4 and parts[0] == PIN_SCHEME and parts[1] != (keys or get_server_keys()).current


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
