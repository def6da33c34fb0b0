"""TOTP second factor (RFC 6238) for admin and bureau accounts, with pyotp.

Codes are six digits over 30-second steps with HMAC-SHA1, what every authenticator app reads
from an ``otpauth://`` URI. A code from the step before or after the server's is accepted (a
phone's clock is often some seconds off), and a code is good once: the last step used is stored
and only a later step is accepted, so a code seen over a shoulder cannot be replayed.

The secret is stored sealed (AES-256-GCM under a key derived from the server key,
:mod:`assess.keys`, with the user id as associated data), so a copy of the database gives no
second factor, and a sealed secret copied onto another user's row does not open.

Enrolment is two steps: :func:`begin_enrolment` makes a secret (shown once, as a QR code or
text) and :func:`confirm_enrolment` turns it on when the user types a code from the app.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import update
from sqlmodel import Session, col

from assess.accounts.exceptions import AccountInvalid, StaffLoginFailed
from assess.accounts.models import StaffTotp, StaffUser
from assess.accounts.roles import TOTP_ROLES
from assess.keys import ServerKeys, get_server_keys
from itembank.models import utcnow

__all__ = [
    "ISSUER",
    "TotpEnrolment",
    "begin_enrolment",
    "confirm_enrolment",
    "remove_totp",
    "totp_enabled",
    "verify_code",
]

ISSUER = "InfoLit 信息素养测评"
"""The issuer name an authenticator app shows beside the account."""
_VALID_WINDOW = 1  # steps either side of now


@dataclass(frozen=True)
class TotpEnrolment:
    """A secret being enrolled: the base32 text to type and the URI a QR code carries."""

    secret: str
    uri: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal_secret(secret: str, user_id: int, *, keys: ServerKeys | None = None) -> str:
    """``v1$KEYID$NONCE$CIPHERTEXT``: ``secret`` encrypted for ``user_id`` under the current server key."""
    keys = keys or get_server_keys()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(keys.current_key("totp")).encrypt(nonce, secret.encode(), f"staff_totp:{user_id}".encode())
    return f"v1${keys.current}${_b64(nonce)}${_b64(sealed)}"


def open_secret(sealed: str, user_id: int, *, keys: ServerKeys | None = None) -> str | None:
    """The secret sealed by :func:`seal_secret`, or ``None`` (another key, another user, tampered)."""
    parts = sealed.split("$")
    if len(parts) != 4 or parts[0] != "v1":
        return None
    key = (keys or get_server_keys()).key(parts[1], "totp")
    if key is None:
        return None
    try:
        plain = AESGCM(key).decrypt(_unb64(parts[2]), _unb64(parts[3]), f"staff_totp:{user_id}".encode())
    except (InvalidTag, ValueError):
        return None
    return plain.decode()


def totp_enabled(session: Session, user_id: int) -> bool:
    """Whether the user has a confirmed second factor."""
    row = session.get(StaffTotp, user_id)
    return row is not None and row.confirmed_at is not None


def begin_enrolment(*, session: Session, user: StaffUser) -> TotpEnrolment:
    """A new, unconfirmed secret for ``user`` (replacing any unconfirmed one), in the caller's transaction.

    Raises
    ------
    AccountInvalid
        The role has no second factor (only admin and bureau accounts), or one is on already.
    """
    if user.role not in TOTP_ROLES:
        raise AccountInvalid("只有管理员和教育局账号可以启用动态验证码。")
    uid = int(user.id or 0)
    row = session.get(StaffTotp, uid)
    if row is not None and row.confirmed_at is not None:
        raise AccountInvalid("这个账号已经启用了动态验证码；如需更换，请先停用。")
    secret = pyotp.random_base32()
    if row is None:
        row = StaffTotp(user_id=uid, sealed_secret=seal_secret(secret, uid))
    else:
        row.sealed_secret, row.last_step, row.created_at = seal_secret(secret, uid), 0, utcnow()
    session.add(row)
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return TotpEnrolment(secret, uri)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in range(step - _VALID_WINDOW, step + _VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _check(session: Session, row: StaffTotp, code: str, now: datetime) -> None:
    secret = open_secret(row.sealed_secret, row.user_id)
    if secret is None:
        raise StaffLoginFailed("动态验证码无法校验（服务器密钥已更换）；请联系管理员重置。")
    step = _matching_step(secret, code, now)
    if step is None:
        raise StaffLoginFailed("动态验证码不正确，请查看验证器应用中的最新验证码。")
    # a code is good once, even for two requests at the same moment: the step moves on atomically
    moved = session.execute(
        update(StaffTotp)
        .where(col(StaffTotp.user_id) == row.user_id, col(StaffTotp.last_step) < step)
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise StaffLoginFailed("这个动态验证码已经用过了，请等下一个验证码出现。")
    session.refresh(row)


def confirm_enrolment(*, session: Session, user_id: int, code: str, now: datetime | None = None) -> None:
    """Turn the enrolled secret on once the user typed a valid code from the app.

    Raises
    ------
    AccountInvalid
        No enrolment was begun.
    StaffLoginFailed
        The code does not match.
    """
    row = session.get(StaffTotp, user_id)
    if row is None:
        raise AccountInvalid("请先生成动态验证码密钥。")
    _check(session, row, code, now or utcnow())
    row.confirmed_at = now or utcnow()
    session.add(row)


def verify_code(*, session: Session, user_id: int, code: str, now: datetime | None = None) -> None:
    """Check a login's code against the user's confirmed secret (and mark its step used).

    Raises
    ------
    StaffLoginFailed
        No confirmed second factor, a wrong code, or a code already used.
    """
    row = session.get(StaffTotp, user_id)
    if row is None or row.confirmed_at is None:
        raise StaffLoginFailed("这个账号没有启用动态验证码。")
    _check(session, row, code, now or utcnow())


def remove_totp(*, session: Session, user_id: int) -> bool:
    """Remove the user's second factor (a lost phone); whether there was one."""
    row = session.get(StaffTotp, user_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
