"""The audit log: who did what, when, from where; written by every service that changes or hands out data.

:func:`record` appends one :class:`~assess.accounts.models.AuditEvent` in the caller's
transaction, so an action and its record are committed together or not at all. Nothing updates or
deletes an event (the database refuses it: triggers from migration ``0007_accounts``).
:func:`list_events` reads the log newest first, for admins.

Actions (:data:`ACTIONS`) name what happened as ``noun.verb``; ``target`` names the thing
(``user:zhang``, ``school:S001``, ``assessment:2026A``) and ``scope_path`` its place in the
people tree, so a bureau's part of the log could be shown to it with the same prefix filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from assess.accounts.models import AuditEvent, AuditEventPublic
from assess.accounts.scope import Actor, Scope

__all__ = ["ACTIONS", "AuditPage", "list_events", "record"]

ACTIONS: dict[str, str] = {
    "login.success": "登录成功",
    "login.failure": "登录失败",
    "login.throttled": "登录被限制",
    "logout": "退出登录",
    "logout.everywhere": "退出全部设备",
    "user.create": "创建账号",
    "user.disable": "停用账号",
    "user.enable": "启用账号",
    "user.reset_password": "重置密码",
    "user.change_password": "修改密码",
    "totp.enable": "启用动态验证码",
    "totp.remove": "停用动态验证码",
    "assessment.create": "创建测评批次",
    "assessment.open": "开放测评",
    "assessment.close": "关闭测评",
    "registration.import": "登记学生",
    "tickets.print": "打印准考证",
    "pin.reset": "重置学生密码",
    "student.unlock": "解除学生锁定",
    "student.move": "更换学生作答设备",
    "report.download": "下载报告",
    "report.view": "查看报告",
    "job.start": "开始后台任务",
    "calibration.start": "开始参数标定",
    "calibration.publish": "发布参数标定",
    "calibration.unpublish": "撤销参数标定的发布",
    "calibration.rescore": "按参数标定重新评分",
    "data.export": "导出数据",
    "report.publish": "发布报告",
    "scale.adopt": "采用量表版本",
    "standard.create": "创建标准设定研究",
    "standard.bookmarks": "提交标准设定书签",
    "standard.describe": "编辑水平描述",
    "item.create": "新建题目",
    "item.edit": "修改题目",
    "item.status": "更改题目状态",
    "items.import": "导入题目",
    "framework.edit": "修改指标框架",
}
"""Every action the log records, with its Chinese label."""


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: str = "",
    scope_path: str = "",
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append an event to the log in the caller's transaction (``KeyError`` for an unknown action)."""
    if action not in ACTIONS:
        raise KeyError(f"unknown audit action {action!r}")
    event = AuditEvent(
        actor_id=actor.user_id,
        actor=actor.username[:64],
        action=action,
        target=target[:128],
        scope_path=scope_path[:255],
        client=actor.client[:64],
        detail=dict(detail or {}),
    )
    if now is not None:
        event.at = now
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class AuditPage:
    """One page of the log, newest first, and how many events match in all."""

    events: tuple[AuditEventPublic, ...]
    total: int
    offset: int
    limit: int


def list_events(
    *,
    session: Session,
    scope: Scope,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> AuditPage:
    """The events inside ``scope`` (admins: all), optionally of one action, actor or target, newest first."""
    where = [] if scope.kind == "all" else [col(AuditEvent.scope_path).startswith(scope.path, autoescape=True)]
    if action:
        where.append(col(AuditEvent.action) == action)
    if actor:
        where.append(col(AuditEvent.actor) == actor)
    if target:
        where.append(col(AuditEvent.target) == target)
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*where)).one()
    rows = session.exec(
        select(AuditEvent)
        .where(*where)
        .order_by(col(AuditEvent.id).desc())
        .offset(max(0, offset))
        .limit(max(1, min(limit, 500)))
    ).all()
    events = tuple(AuditEventPublic.model_validate(r, from_attributes=True) for r in rows)
    return AuditPage(events, int(total), max(0, offset), limit)
