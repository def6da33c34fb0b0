from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.accounts import totp
from assess.accounts.exceptions import AccountInvalid, StaffLoginFailed
from assess.accounts.models import StaffTotp, StaffUser
from assess.keys import new_key_text, parse_keys
from tests.console_world import ConsoleWorld

T0 = datetime(2026, 5, 12, 8, 0, 10, tzinfo=UTC)


def _user(s: Session, name: str) -> StaffUser:
    return s.exec(select(StaffUser).where(StaffUser.username == name)).one()


def _code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def test_rfc_6238_codes_enrol_and_verify_once(engine: Engine, cworld: ConsoleWorld) -> None:
    with Session(engine) as s:
        user = _user(s, "county1")
        enrol = totp.begin_enrolment(session=s, user=user)
        assert enrol.uri.startswith("otpauth://totp/") and "county1" in enrol.uri
        with pytest.raises(StaffLoginFailed, match="没有启用"):
            totp.verify_code(session=s, user_id=int(user.id or 0), code=_code(enrol.secret, T0), now=T0)
        with pytest.raises(StaffLoginFailed, match="不正确"):
            totp.confirm_enrolment(session=s, user_id=int(user.id or 0), code="000000", now=T0)
        totp.confirm_enrolment(session=s, user_id=int(user.id or 0), code=_code(enrol.secret, T0), now=T0)
        assert totp.totp_enabled(s, int(user.id or 0))
        s.commit()
        uid = int(user.id or 0)
        later = T0 + timedelta(seconds=60)
        totp.verify_code(session=s, user_id=uid, code=_code(enrol.secret, later), now=later)
        with pytest.raises(StaffLoginFailed, match="用过"):  # the same code again: refused
            totp.verify_code(session=s, user_id=uid, code=_code(enrol.secret, later), now=later)
        with pytest.raises(StaffLoginFailed, match="用过"):  # an older step too
            totp.verify_code(session=s, user_id=uid, code=_code(enrol.secret, T0 + timedelta(seconds=30)), now=later)
        # a phone 30 s behind is accepted; 90 s off is not
        now = T0 + timedelta(seconds=300)
        totp.verify_code(session=s, user_id=uid, code=_code(enrol.secret, now - timedelta(seconds=30)), now=now)
        with pytest.raises(StaffLoginFailed, match="不正确"):
            far = now + timedelta(seconds=120)
            totp.verify_code(session=s, user_id=uid, code=_code(enrol.secret, far - timedelta(seconds=90)), now=far)
        # the secret is stored sealed, not in clear
        row = s.get(StaffTotp, uid)
        assert row is not None and enrol.secret not in row.sealed_secret


def test_the_sealed_secret_needs_the_server_key_and_the_same_user() -> None:
    keys = parse_keys(new_key_text("a"), source="test")
    sealed = totp.seal_secret("JBSWY3DPEHPK3PXP", 7, keys=keys)
    assert totp.open_secret(sealed, 7, keys=keys) == "JBSWY3DPEHPK3PXP"
    assert totp.open_secret(sealed, 8, keys=keys) is None  # copied onto another user's row
    assert totp.open_secret(sealed, 7, keys=parse_keys(new_key_text("a"), source="other")) is None
    assert (
        totp.open_secret(sealed[:-3] + "AAA", 7, keys=keys) is None and totp.open_secret("junk", 7, keys=keys) is None
    )


def test_only_admin_and_bureau_accounts_take_a_second_factor(engine: Engine, cworld: ConsoleWorld) -> None:
    with Session(engine) as s:
        with pytest.raises(AccountInvalid, match="只有管理员和教育局"):
            totp.begin_enrolment(session=s, user=_user(s, "school1"))
        root = _user(s, "root")
        first = totp.begin_enrolment(session=s, user=root)
        second = totp.begin_enrolment(session=s, user=root)  # an unconfirmed secret is replaced
        assert first.secret != second.secret
        totp.confirm_enrolment(session=s, user_id=int(root.id or 0), code=_code(second.secret, T0), now=T0)
        with pytest.raises(AccountInvalid, match="已经启用"):
            totp.begin_enrolment(session=s, user=root)
        assert totp.remove_totp(session=s, user_id=int(root.id or 0))
        assert not totp.totp_enabled(s, int(root.id or 0))
