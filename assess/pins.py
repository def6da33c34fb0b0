"""Test tickets and PINs: drawing them, hashing the PINs, checking a PIN.

Every new student gets a test ticket (准考证号): ten digits, nine drawn at random with
:mod:`secrets` (never sequential, so one ticket does not reveal its neighbours) and a final Luhn
check digit so a mistyped ticket is caught before any lookup (:func:`ticket_is_well_formed`).
The second login factor is a six-digit PIN, also drawn with :mod:`secrets`. Neither starts with
a zero, so a spreadsheet cannot drop a leading digit.

**The PIN is never stored in clear.** Only its argon2id hash is kept (``Student.pin_hash``).
Hash parameters (:data:`PIN_HASH_PARAMETERS`): argon2id, ``time_cost=2``, ``memory_cost=19456``
KiB (19 MiB), ``parallelism=1``, OWASP's minimum recommended setting. One hash costs about 35 ms
of CPU on this project's 2-core machine; :func:`hash_pins` spreads them over a thread pool
(argon2 releases the GIL). A six-digit PIN has only 900,000 values: the hash slows down an
attacker who stole the database, but what protects a student is that the PIN is only good
together with its ticket, at a login that limits attempts.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from assess.models import Student

__all__ = [
    "CHUNK",
    "PIN_HASH_PARAMETERS",
    "Progress",
    "chunks",
    "dummy_pin_hash",
    "hash_pins",
    "new_pin",
    "new_ticket",
    "pin_hasher",
    "ticket_is_well_formed",
    "unique_tickets",
    "verify_pin",
]

PIN_HASH_PARAMETERS: dict[str, Any] = {"type": Type.ID, "time_cost": 2, "memory_cost": 19456, "parallelism": 1}
"""argon2id, 2 passes over 19 MiB, one lane: OWASP's minimum recommended argon2id setting."""
CHUNK = 900
"""Values per ``IN (...)`` list, below every driver's parameter limit."""

Progress = Callable[[int, int], None]
"""Called as PINs are hashed, with the number hashed so far and the total."""


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``values`` in slices of :data:`CHUNK` (for ``IN (...)`` lists)."""
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


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


def pin_hasher() -> PasswordHasher:
    """The argon2id hasher with :data:`PIN_HASH_PARAMETERS` (used to hash and to verify PINs)."""
    return PasswordHasher(**PIN_HASH_PARAMETERS)


@lru_cache(maxsize=1)
def dummy_pin_hash() -> str:
    """The hash of a random PIN nobody knows, made with :data:`PIN_HASH_PARAMETERS` (once per process).

    The login checks a PIN against it when the ticket is unknown (or has no PIN), so that an
    unknown ticket costs the same argon2 verification as a wrong PIN and cannot be told apart by
    its timing.
    """
    return pin_hasher().hash(secrets.token_hex(16))


def verify_pin(pin_hash: str, pin: str) -> bool:
    """Whether ``pin`` matches the stored ``pin_hash`` (``False`` for an empty PIN or an empty or damaged hash).

    The hash carries its own argon2 parameters, so a PIN hashed with any settings verifies here
    (the login uses this too).
    """
    if not pin_hash or not pin:
        return False
    try:
        return pin_hasher().verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


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


def hash_pins(pins: Sequence[str], hasher: PasswordHasher, progress: Progress | None) -> list[str]:
    """Hash PINs on a thread pool (argon2 releases the GIL while it works), in order."""
    if not pins:
        return []
    workers = max(1, min(len(pins), os.cpu_count() or 1))
    hashes: list[str] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for h in pool.map(hasher.hash, pins):
            hashes.append(h)
            if progress is not None:
                progress(len(hashes), len(pins))
    return hashes
