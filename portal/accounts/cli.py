"""`ebok accounts …`: opening, changing, resetting and closing resident accounts; mail retry.

Accounts are opened by the manager on an application signed at the office, never by
self-registration: `create` prints a one-time password to hand over (on paper with `--letter`,
or by phone); the first sign-in with it asks for a new one.

Every action but `purge` first erases the personal data of accounts closed longer ago than the
retention period (idempotent and cheap; see portal.accounts.closing), so that erasure happens on
time whichever command the manager types. The rules themselves (a closed account is never reset
or enabled again, what an e-mail address looks like…) are the account service's; this module
parses, prints and writes letters.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ebok.console import fail, note, warn
from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from portal.accounts.service import ACTIVE, DISABLED, AccountError, AccountRecord, Accounts
from portal.i18n import DEFAULT_LOCALE, LOCALES

if TYPE_CHECKING:
    from portal.accounts.letters import Kind

# An action takes the parsed arguments, the settings and the open account service.
Action = Callable[[argparse.Namespace, Settings, Accounts], int]

# The command line waits for delivery: a short retry, then the message waits in outbox/failed/.
CLI_RETRY_DELAYS = (2.0,)

LETTER_HELP = "also write the printable letter with the login and one-time password (PDF)"
LANG_HELP = "the letter's language: pl (default) or en"


def register(subparsers: argparse._SubParsersAction) -> None:
    accounts = subparsers.add_parser(
        "accounts",
        help="manage resident accounts",
        description="Open, change, reset and close resident accounts (docs/accounts.md).",
    )
    accounts.set_defaults(func=run)
    sub = accounts.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)

    def action(name: str, func: Action, text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=text)
        parser.set_defaults(accounts_action=func)
        return parser

    create = action("create", cmd_create, "open an account; prints a one-time password")
    create.add_argument("--login", required=True)
    create.add_argument("--premises", action="append", required=True, metavar="ID")
    create.add_argument("--email")
    create.add_argument("--letter", metavar="FILE.pdf", help=LETTER_HELP)
    create.add_argument("--lang", choices=LOCALES, default=DEFAULT_LOCALE, help=LANG_HELP)

    action("list", cmd_list, "list accounts")

    for name, func, text in (
        ("disable", cmd_disable, "block sign-in and end every session of the account"),
        ("enable", cmd_enable, "allow sign-in again (never for a closed account)"),
    ):
        action(name, func, text).add_argument("--login", required=True)

    for name, func, text in (
        ("link", cmd_link, "give the account access to a premises"),
        ("unlink", cmd_unlink, "take a premises away from the account"),
    ):
        parser = action(name, func, text)
        parser.add_argument("--login", required=True)
        parser.add_argument("--premises", action="append", required=True, metavar="ID")

    set_email = action("set-email", cmd_set_email, "set (or with --clear remove) the e-mail")
    set_email.add_argument("--login", required=True)
    group = set_email.add_mutually_exclusive_group(required=True)
    group.add_argument("--email")
    group.add_argument("--clear", action="store_true")

    reset = action(
        "reset", cmd_reset, "office reset: new one-time password, forced change, sessions end"
    )
    reset.add_argument("login")
    reset.add_argument("--letter", metavar="FILE.pdf", help=LETTER_HELP)
    reset.add_argument("--lang", choices=LOCALES, default=DEFAULT_LOCALE, help=LANG_HELP)
    # The older spelling, still in docs/accounts.md: the same action.
    reset_password = action("reset-password", cmd_reset, "the same as `reset LOGIN`")
    reset_password.add_argument("--login", required=True)
    reset_password.add_argument("--letter", metavar="FILE.pdf", help=LETTER_HELP)
    reset_password.add_argument(
        "--lang", choices=LOCALES, default=DEFAULT_LOCALE, help=LANG_HELP
    )

    close = action(
        "close",
        cmd_close,
        "resignation: no more sign-in or reset, sessions end, personal data erased after"
        " the retention period",
    )
    close.add_argument("login")

    action(
        "purge",
        cmd_purge,
        "erase personal data of accounts closed longer than the retention period",
    )
    action("mail-retry", cmd_mail_retry, "retry delivery of messages in DATA/outbox/failed/")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Every `ebok accounts` action: erasure first (but for `purge` itself), then the action;
    a rule the service refuses (AccountError) is the command's error message."""
    accounts = Accounts(settings.accounts_database)
    try:
        if args.accounts_action is not cmd_purge:
            for login in accounts.purge_closed(settings.closed_account_retention_days):
                note(f"{login}: closed account's personal data erased (retention over)")
        return args.accounts_action(args, settings, accounts)
    except AccountError as exc:
        return fail(str(exc))
    finally:
        accounts.close()


# -- output -----------------------------------------------------------------------------------
def print_password(login: str, password: str) -> None:
    print(f"login: {login}")
    print(f"one-time password: {password}")


def _describe(record: AccountRecord, closed: str = "") -> str:
    last = record.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if record.last_login_at else "-"
    flags = " (must change password)" if record.must_change_password else ""
    flags = f" ({closed})" if closed else flags
    return "\t".join(
        (
            record.login,
            record.status + flags,
            ",".join(record.premises_ids) or "-",
            record.email or "-",
            last,
        )
    )


def _warn_unknown_premises(settings: Settings, premises_ids: Iterable[str]) -> None:
    """Linking ahead of an import is legitimate (a new flat), so only warn."""
    generation = SnapshotStore(settings.snapshots_dir).current()
    if generation is None:
        warn("no data published yet; premises ids not checked")
        return
    for pid in premises_ids:
        if generation.document_json(pid) is None:
            warn(
                f"premises {pid!r} is not in the current data (generation {generation.id});"
                " the resident will not see it until it is"
            )


# -- letters ----------------------------------------------------------------------------------
def check_letter_path(path: str | None) -> str | None:
    """Why the letter cannot be written there (checked before anything changes), or None."""
    if not path:
        return None
    target = Path(path)
    if target.exists():
        return f"{path} already exists; letters are never overwritten"
    if not target.parent.is_dir():
        return f"directory {target.parent} does not exist"
    return None


def write_letter_for(
    settings: Settings,
    record: AccountRecord,
    password: str,
    kind: Kind,
    path: str,
    locale: str = DEFAULT_LOCALE,
) -> int:
    # The PDF stack is imported only when a letter is asked for.
    from portal.accounts.letters import Letter, describe_premises, write_letter

    community, places = describe_premises(
        SnapshotStore(settings.snapshots_dir), record.premises_ids
    )
    letter = Letter(
        kind=kind,
        login=record.login,
        password=password,
        base_url=settings.base_url,
        community=community,
        places=places,
        with_email=bool(record.email),
        locale=locale,
    )
    try:
        write_letter(Path(path), letter)
    except OSError as exc:
        return fail(f"could not write the letter to {path}: {exc.strerror or exc}")
    print(f"letter written to {path} (print it and hand it over; then delete the file)")
    return 0


# -- actions ----------------------------------------------------------------------------------
def cmd_create(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    if problem := check_letter_path(args.letter):
        return fail(problem)
    record, password = accounts.open_account(args.login, args.premises, email=args.email)
    _warn_unknown_premises(settings, args.premises)
    print_password(record.login, password)
    print("The first sign-in with it asks the resident to set a password of their own.")
    if args.letter:
        return write_letter_for(
            settings, record, password, "activation", args.letter, args.lang
        )
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    print("login\tstatus\tpremises\temail\tlast sign-in")
    for record in accounts.list():
        info = accounts.closure(record, settings.closed_account_retention_days)
        closed = ""
        if info is not None:
            erase = info.erase_after.strftime("%Y-%m-%d") if info.erase_after else "?"
            closed = "personal data erased" if info.erased else f"data erased after {erase}"
        print(_describe(record, closed))
    return 0


def cmd_disable(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    record = accounts.require(args.login)
    accounts.set_status(record.id, DISABLED)
    print(f"{record.login}: disabled; every session ended")
    return 0


def cmd_enable(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    record = accounts.require(args.login)
    accounts.set_status(record.id, ACTIVE)
    print(f"{record.login}: enabled")
    return 0


def cmd_link(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    record = accounts.require(args.login)
    for pid in args.premises:
        new = accounts.link(record.id, pid)
        print(f"{record.login}: {'linked' if new else 'already linked'} {pid}")
    _warn_unknown_premises(settings, args.premises)
    return 0


def cmd_unlink(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    record = accounts.require(args.login)
    status = 0
    for pid in args.premises:
        if accounts.unlink(record.id, pid):
            print(f"{record.login}: unlinked {pid}")
        else:
            status = fail(f"{record.login} is not linked to {pid!r}")
    return status


def cmd_set_email(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    record = accounts.require(args.login)
    accounts.set_email(record.id, None if args.clear else args.email)
    email = accounts.get(record.id).email  # as stored: stripped
    print(f"{record.login}: e-mail {'removed' if email is None else 'set to ' + email}")
    return 0


def cmd_reset(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    if problem := check_letter_path(args.letter):
        return fail(problem)
    record, password = accounts.office_reset(args.login)
    print_password(record.login, password)
    print("Every session of the account has ended; the next sign-in asks for a new password.")
    if record.email:
        # Imported here: the mail stack (jinja2, templates, smtplib) only when a mail is sent.
        from portal.accounts.lifecycle import notify_password_changed
        from portal.accounts.mail import Mailer

        mailer = Mailer(settings, retry_delays=CLI_RETRY_DELAYS)
        if not notify_password_changed(mailer, settings, record, "office"):
            warn("the password-changed notice could not be queued")
        mailer.flush(60)
        mailer.close()
    if args.letter:
        return write_letter_for(settings, record, password, "reset", args.letter, args.lang)
    return 0


def cmd_close(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    record = accounts.close_account(args.login)
    info = accounts.closure(record, settings.closed_account_retention_days)
    when = info.erase_after.strftime("%Y-%m-%d") if info and info.erase_after else "-"
    print(f"{record.login}: closed; sign-in and password reset refused, every session ended")
    print(f"personal data (e-mail, sign-in history) will be erased after {when}")
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    logins = accounts.purge_closed(settings.closed_account_retention_days)
    for login in logins:
        print(f"{login}: personal data erased")
    if not logins:
        print("nothing to erase")
    return 0


def cmd_mail_retry(args: argparse.Namespace, settings: Settings, accounts: Accounts) -> int:
    from portal.accounts.mail import Mailer  # here: the mail stack only for the mail commands

    mailer = Mailer(settings, retry_delays=CLI_RETRY_DELAYS)
    delivered, failed = mailer.retry_failed()
    print(f"delivered {delivered}, still failed {failed}")
    return 1 if failed else 0
