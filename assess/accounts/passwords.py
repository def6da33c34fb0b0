"""Staff passwords: argon2id hashes, a plain policy, and one-time passwords for new and reset accounts.

Unlike a student's six-digit PIN, a staff password is chosen by a person and may be reused
elsewhere, so it gets a memory-hard KDF: argon2id with RFC 9106's second recommended setting
(``time_cost=3``, 64 MiB, 4 lanes; argon2-cffi's defaults), about 50 ms per check. Staff log in
rarely, so that costs nothing, and a stolen hash costs an attacker that much per guess.

A hash made with other parameters still verifies (it carries them) and :func:`needs_rehash` says
so; the login then stores a new one.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from assess.accounts.exceptions import AccountInvalid

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "burn_verification",
    "check_password_policy",
    "hash_password",
    "needs_rehash",
    "new_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 10
"""Shortest acceptable staff password."""
_MAX_LENGTH = 128
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I to misread


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4 (RFC 9106 second recommendation)


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (``False`` for an empty or damaged hash)."""
    if not stored or not password or len(password) > _MAX_LENGTH:
        return False
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_verification(password: str) -> None:
    """Spend the time of one verification (an unknown username must not answer faster)."""
    verify_password(_dummy_hash(), password or "x")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:  # made once, on first use
    return _hasher().hash(secrets.token_urlsafe(16))


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than today's."""
    try:
        return _hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True


def check_password_policy(password: str, *, username: str = "") -> None:
    """Refuse a password that is too short, too long, all one character, or the username.

    Raises
    ------
    AccountInvalid
        With the reason, in Chinese.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountInvalid(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。")
    if len(password) > _MAX_LENGTH:
        raise AccountInvalid(f"密码最多 {_MAX_LENGTH} 个字符。")
    if len(set(password)) < 4:
        raise AccountInvalid("密码太简单：请混用不同的字母、数字或符号。")
    if username and password.lower() == username.lower():
        raise AccountInvalid("密码不能与用户名相同。")


def new_password(length: int = 14) -> str:
    """A random one-time password (for a new account or a reset), easy to read aloud and type."""
    while True:
        made = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in made) and any(c.isalpha() for c in made):
            return made
