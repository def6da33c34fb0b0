"""``infolit users``: staff accounts from the command line (an operator on the server acts as an admin).

``create USERNAME --role bureau --area 4403`` prints the one-time password (to hand over; it must
be changed at the first login), ``list``, ``disable``, ``enable``, ``reset-password`` (a new
one-time password; the account's sessions end), ``remove-totp`` (a lost phone) and ``roles``
(what each role may do). Every change is written to the audit log as ``cli:<login name>``.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TypeVar

import click

from assess.accounts import audit, totp, users
from assess.accounts.exceptions import AccountError
from assess.accounts.roles import PERMISSIONS, ROLE_CODES, ROLES
from assess.accounts.scope import Actor
from itembank.db import session_scope

__all__ = ["users_group"]

T = TypeVar("T")


def _operator() -> Actor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        name = "operator"
    return Actor.command_line(name)


def _fail(exc: AccountError) -> None:
    raise click.ClickException(str(exc))


@click.group("users")
def users_group() -> None:
    """Staff accounts: create, list, disable, enable, reset passwords; the roles."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", "role_code", type=click.Choice(ROLE_CODES), required=True, help="The account's role.")
@click.option("--area", "area_code", default=None, help="Area code of a bureau account (province, city or county).")
@click.option("--school", "school_code", default=None, help="School code of a school account.")
@click.option("--name", "display_name", default="", help="The name shown in the console.")
def create_command(
    username: str, role_code: str, area_code: str | None, school_code: str | None, display_name: str
) -> None:
    """Create a staff account and print its one-time password (to be changed at the first login)."""
    try:
        with session_scope() as session:
            made = users.create_user(
                session=session,
                actor=_operator(),
                username=username,
                role_code=role_code,
                display_name=display_name,
                area_code=area_code,
                school_code=school_code,
            )
    except AccountError as exc:
        _fail(exc)
        return
    scope = f" of {made.user.scope_code} {made.user.scope_name}" if made.user.scope_code else ""
    click.echo(f"created {made.user.username} ({made.user.role}{scope})")
    click.echo(f"one-time password: {made.password}")
    click.echo("hand it over safely; it must be changed at the first login")


@users_group.command("list")
@click.option("--role", "role_code", type=click.Choice(ROLE_CODES), default=None, help="Only accounts of this role.")
def list_command(role_code: str | None) -> None:
    """List the staff accounts."""
    with session_scope() as session:
        listed = users.list_users(session=session, actor=_operator(), role_code=role_code)
    if not listed:
        click.echo("no accounts")
        return
    for u in listed:
        state = "disabled" if u.disabled else "active"
        extras = [
            x for x in ("totp" if u.totp_enabled else "", "must change password" if u.must_change_password else "") if x
        ]
        node = f"{u.scope_code} {u.scope_name}" if u.scope_code else "everything"
        click.echo(f"{u.username:<24} {u.role:<10} {node:<32} {state}" + (f" ({', '.join(extras)})" if extras else ""))


def _change(change: Callable[..., T], username: str) -> T:
    """Run one account change as the operator in one transaction; a refusal is a one-line error."""
    try:
        with session_scope() as session:
            return change(session=session, actor=_operator(), username=username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@users_group.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Disable an account; its sessions end at once."""
    done = _change(users.disable_user, username)
    click.echo(f"disabled {done.username}; its sessions have ended")


@users_group.command("enable")
@click.argument("username")
def enable_command(username: str) -> None:
    """Enable a disabled account again."""
    click.echo(f"enabled {_change(users.enable_user, username).username}")


@users_group.command("reset-password")
@click.argument("username")
def reset_command(username: str) -> None:
    """Give an account a new one-time password; its sessions end."""
    made = _change(users.reset_password, username)
    click.echo(f"one-time password of {made.user.username}: {made.password}")


@users_group.command("remove-totp")
@click.argument("username")
def remove_totp_command(username: str) -> None:
    """Remove an account's TOTP second factor (a lost phone); it can enrol again after logging in."""
    actor = _operator()
    try:
        with session_scope() as session:
            user = users.find_user(session=session, actor=actor, username=username)
            removed = totp.remove_totp(session=session, user_id=int(user.id or 0))
            if removed:
                audit.record(session, actor, "totp.remove", target=f"user:{user.username}", scope_path=user.scope_path)
    except AccountError as exc:
        _fail(exc)
        return
    click.echo(f"removed the second factor of {username}" if removed else f"{username} had no second factor")


@users_group.command("roles")
def roles_command() -> None:
    """What each role may do."""
    for r in ROLES:
        scope = {"area": "one area and what lies under it", "school": "one school"}.get(r.scoped_to or "", "everything")
        click.echo(f"{r.code} ({r.name}): {scope}")
        for p in PERMISSIONS:
            if p in r.permissions:
                click.echo(f"  {p:<22} {PERMISSIONS[p]}")
