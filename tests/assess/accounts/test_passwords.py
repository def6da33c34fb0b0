from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from assess.accounts.exceptions import AccountInvalid
from assess.accounts.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    new_password,
    verify_password,
)


def test_a_password_is_stored_as_argon2id_with_rfc_9106_parameters_and_verifies() -> None:
    stored = hash_password("Kx7-correct-horse")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "Kx7-correct-horse")
    assert not verify_password(stored, "Kx7-correct-hors")
    assert not verify_password("", "x") and not verify_password("not a hash", "x") and not verify_password(stored, "")
    assert not needs_rehash(stored)
    weaker = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("Kx7-correct-horse")
    assert verify_password(weaker, "Kx7-correct-horse") and needs_rehash(weaker)


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short1", "至少"), ("a" * 129, "最多"), ("abababababab", "太简单"), ("zhang.wei01", "用户名")],
)
def test_the_policy_refuses_weak_passwords(password: str, reason: str) -> None:
    with pytest.raises(AccountInvalid, match=reason):
        check_password_policy(password, username="Zhang.Wei01")


def test_one_time_passwords_are_random_readable_and_pass_the_policy() -> None:
    made = {new_password() for _ in range(50)}
    assert len(made) == 50
    for p in made:
        check_password_policy(p)
        assert not set(p) & set("0O1lI") and any(c.isdigit() for c in p)
