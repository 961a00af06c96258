"""`ebok staff …`: staff accounts of the manager's panel from the command line (the first
administrator is made here; afterwards administrators can also use /panel/staff).

Every change is in the panel's audit log, with `cli` as the actor.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ebok.console import fail
from ebok.settings import Settings
from portal.accounts.service import Accounts
from portal.panel.audit import CLI, AuditLog
from portal.panel.roles import ROLE_NAMES, ROLES
from portal.panel.staff import ACTIVE, DISABLED, Staff, StaffError, StaffMember

Action = Callable[[argparse.Namespace, Staff, AuditLog], int]


def register(subparsers: argparse._SubParsersAction) -> None:
    staff = subparsers.add_parser(
        "staff",
        help="manage staff accounts of the manager's panel (/panel/)",
        description="Create, list, disable, enable and reset panel staff (docs/panel.md).",
    )
    staff.set_defaults(func=run)
    sub = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)

    def action(name: str, func: Action, text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=text)
        parser.set_defaults(staff_action=func)
        return parser

    create = action("create", cmd_create, "create a staff account; prints a one-time password")
    create.add_argument("--login", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--email")
    action("list", cmd_list, "list staff accounts")
    for name, func, text in (
        ("disable", cmd_disable, "block sign-in and end every session"),
        ("enable", cmd_enable, "allow sign-in again"),
        (
            "reset",
            cmd_reset,
            "new one-time password; the authenticator app is forgotten; sessions end",
        ),
    ):
        action(name, func, text).add_argument("login")


def run(args: argparse.Namespace, settings: Settings) -> int:
    accounts = Accounts(settings.accounts_database)
    try:
        return args.staff_action(args, Staff(accounts.db), AuditLog(accounts.db))
    except StaffError as exc:
        return fail(str(exc))
    finally:
        accounts.close()


def print_password(member: StaffMember, password: str) -> None:
    print(f"login: {member.login}")
    print(f"one-time password: {password}")


def cmd_create(args: argparse.Namespace, staff: Staff, log: AuditLog) -> int:
    member, password = staff.create(args.login, args.role, email=args.email)
    log.append(
        "staff-created",
        actor=CLI,
        target_kind="staff",
        target=member.login,
        details=f"rola: {ROLE_NAMES[member.role]}",
    )
    print_password(member, password)
    print("The first sign-in at /panel/login sets a password and adds an authenticator app.")
    return 0


def cmd_list(args: argparse.Namespace, staff: Staff, log: AuditLog) -> int:
    print("login\trole\tstatus\temail\tlast sign-in")
    for m in staff.list():
        status = m.status
        if m.active and m.must_change_password:
            status += " (one-time password)"
        elif m.active and not m.enrolled:
            status += " (no authenticator app yet)"
        last = m.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if m.last_login_at else "-"
        print("\t".join((m.login, m.role, status, m.email or "-", last)))
    return 0


def _set_status(staff: Staff, log: AuditLog, login: str, status: str) -> int:
    member = staff.require(login)
    changed = staff.set_status(member.id, status)
    word = "disabled; every session ended" if status == DISABLED else "enabled"
    if changed:
        action = "staff-disabled" if status == DISABLED else "staff-enabled"
        log.append(action, actor=CLI, target_kind="staff", target=member.login)
        print(f"{member.login}: {word}")
    else:
        print(f"{member.login}: already {status}")
    return 0


def cmd_disable(args: argparse.Namespace, staff: Staff, log: AuditLog) -> int:
    return _set_status(staff, log, args.login, DISABLED)


def cmd_enable(args: argparse.Namespace, staff: Staff, log: AuditLog) -> int:
    return _set_status(staff, log, args.login, ACTIVE)


def cmd_reset(args: argparse.Namespace, staff: Staff, log: AuditLog) -> int:
    member, password = staff.reset(args.login)
    log.append("staff-reset", actor=CLI, target_kind="staff", target=member.login)
    print_password(member, password)
    print("Every session has ended; the next sign-in sets a password and adds the app again.")
    return 0
