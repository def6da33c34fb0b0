"""Roles and what each may do: one table that the services, the CLI and the web guards all read.

==========  ===========================================================================
role        who
==========  ===========================================================================
admin       系统管理员: every account, the audit log, assessments, everything in the tree
researcher  测评研究人员: items, calibrations and assessments; anonymised data of everyone
bureau      教育局 (province, city or county): its own area and what lies under it;
            creates and disables the school accounts there
school      学校管理员: its own school: registration, tickets, PINs, the monitor
==========  ===========================================================================

A permission says what kind of thing a role may touch; the *scope* (:mod:`assess.accounts.scope`)
says which of those things. A request passes a guard on the permission, and the service then
filters by scope, so a thing outside one's scope is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ROLE_CODES",
    "TOTP_ROLES",
    "Role",
    "can_manage_role",
    "has_permission",
    "role",
]


PERMISSIONS: dict[str, str] = {
    "users.manage": "管理账号（创建、停用、重置密码）",
    "audit.view": "查看审计日志",
    "assessments.manage": "创建、开放、关闭测评批次",
    "assessments.view": "查看测评批次",
    "items.manage": "管理题库与参数标定",
    "tree.view": "查看地区与学校",
    "profiles.view": "查看与下载素养画像报告",
    "participation.view": "查看参测进度",
    "registration.manage": "登记班级与学生、打印准考证、重置学生密码、解除锁定",
    "monitor.view": "测评现场监控",
    "data.export": "导出匿名化作答数据",
}
"""Every permission with its description (Chinese, as the console shows it)."""


@dataclass(frozen=True)
class Role:
    """A role: its code, its Chinese name, what it is for, and its permissions."""

    code: str
    name: str
    description: str
    permissions: frozenset[str]
    scoped_to: str | None  # "area", "school", or None (everything)


ROLES: tuple[Role, ...] = (
    Role(
        "admin",
        "系统管理员",
        "管理全部账号与审计日志，管理测评批次，可查看全部数据",
        frozenset(PERMISSIONS),
        None,
    ),
    Role(
        "researcher",
        "测评研究人员",
        "管理题库、标定与测评批次，查看全部地区的匿名化结果",
        frozenset(
            {
                "assessments.manage",
                "assessments.view",
                "items.manage",
                "tree.view",
                "profiles.view",
                "participation.view",
                "data.export",
            }
        ),  # fmt: skip
        None,
    ),
    Role(
        "bureau",
        "教育局",
        "查看并下载本地区及下属学校的报告与参测进度，管理下属学校的账号",
        frozenset(
            {
                "users.manage",
                "assessments.view",
                "tree.view",
                "profiles.view",
                "participation.view",
                "registration.manage",
            }
        ),  # fmt: skip
        "area",
    ),
    Role(
        "school",
        "学校管理员",
        "登记本校学生、打印准考证、测评现场监控，查看本校报告",
        frozenset({"assessments.view", "profiles.view", "participation.view", "registration.manage", "monitor.view"}),
        "school",
    ),
)
"""The roles, from the widest to the narrowest scope."""

ROLE_CODES: tuple[str, ...] = tuple(r.code for r in ROLES)
"""``admin``, ``researcher``, ``bureau``, ``school``."""
TOTP_ROLES: frozenset[str] = frozenset({"admin", "bureau"})
"""Roles that may (and are encouraged to) add a TOTP second factor."""

_BY_CODE = {r.code: r for r in ROLES}
assert all(r.permissions <= set(PERMISSIONS) for r in ROLES)


def role(code: str) -> Role:
    """The role named ``code`` (``KeyError`` for an unknown one)."""
    return _BY_CODE[code]


def has_permission(role_code: str, permission: str) -> bool:
    """Whether ``role_code`` holds ``permission`` (``False`` for an unknown role)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    found = _BY_CODE.get(role_code)
    return found is not None and permission in found.permissions


def can_manage_role(actor_role: str, target_role: str) -> bool:
    """Whether a user of ``actor_role`` may create, disable or reset users of ``target_role``.

    Admins manage every role; a bureau manages school accounts (under its area: the scope check
    is the service's). Nobody else manages accounts.
    """
    if actor_role == "admin":
        return target_role in _BY_CODE
    return actor_role == "bureau" and target_role == "school"
