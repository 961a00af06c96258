"""`ebok accounts reset | close | purge | mail-retry`, and the printed letter for `create`.

Registered by portal.cli, which calls `register_account_commands`. Besides its own commands the
hook does three things to the commands portal.cli defines, so that the rules hold whichever
command the manager types:
- every `ebok accounts …` command first erases the personal data of accounts closed longer ago
  than the retention period (idempotent and cheap; see portal.accounts.lifecycle);
- `reset-password --login X` is the same as `reset X` (letter, notice, closed accounts refused);
- `enable` refuses a closed account: a resident who returns signs a new application.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from portal.accounts.letters import Kind, Letter, describe_premises, write_letter
from portal.accounts.lifecycle import close_account, closure, notify_password_changed, office_reset
from portal.accounts.lifecycle import purge_for as purge_expired
from portal.accounts.mail import Mailer
from portal.accounts.service import CLOSED, AccountError, AccountRecord, Accounts

Handler = Callable[[argparse.Namespace, Settings], int]
# The command line waits for delivery: a short retry, then the message waits in outbox/failed/.
CLI_RETRY_DELAYS = (2.0,)


def _err(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def register_account_commands(sub: argparse._SubParsersAction) -> None:
    for name, parser in sub.choices.items():
        if name == "create":
            parser.add_argument("--letter", metavar="FILE.pdf", help=LETTER_HELP)
        if name == "reset-password":
            parser.add_argument("--letter", metavar="FILE.pdf", help=LETTER_HELP)
            parser.set_defaults(func=cmd_reset)
        if name == "enable":
            parser.set_defaults(func=_refusing_closed(parser.get_default("func")))

    reset = sub.add_parser(
        "reset",
        help="office reset: new one-time password, forced change, every session ends",
    )
    reset.add_argument("login")
    reset.add_argument("--letter", metavar="FILE.pdf", help=LETTER_HELP)
    reset.set_defaults(func=cmd_reset)

    close = sub.add_parser(
        "close",
        help="resignation: no more sign-in or reset, sessions end, personal data erased after"
        " the retention period",
    )
    close.add_argument("login")
    close.set_defaults(func=cmd_close)

    purge = sub.add_parser(
        "purge", help="erase personal data of accounts closed longer than the retention period"
    )
    purge.set_defaults(func=cmd_purge)

    retry = sub.add_parser("mail-retry", help="retry delivery of messages in DATA/outbox/failed/")
    retry.set_defaults(func=cmd_mail_retry)

    for parser in sub.choices.values():
        func = parser.get_default("func")
        if func is not None and func is not cmd_purge:
            parser.set_defaults(func=_purging_first(func))


LETTER_HELP = "also write the printable letter with the login and one-time password (PDF)"


def _purging_first(func: Handler) -> Handler:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        for login in purge_expired(settings, Accounts(settings.accounts_db)):
            print(
                f"{login}: closed account's personal data erased (retention over)", file=sys.stderr
            )
        return func(args, settings)

    return run


def _refusing_closed(func: Handler) -> Handler:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        record = Accounts(settings.accounts_db).by_login(args.login)
        if record is not None and record.status == CLOSED:
            return _err(f"account {record.login!r} is closed; a returning resident needs a new one")
        return func(args, settings)

    return run


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
    settings: Settings, record: AccountRecord, password: str, kind: Kind, path: str
) -> int:
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
    )
    try:
        write_letter(Path(path), letter)
    except OSError as exc:
        return _err(f"could not write the letter to {path}: {exc.strerror or exc}")
    print(f"letter written to {path} (print it and hand it over; then delete the file)")
    return 0


# -- commands ---------------------------------------------------------------------------------
def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    problem = check_letter_path(args.letter)
    if problem:
        return _err(problem)
    accounts = Accounts(settings.accounts_db)
    try:
        record, password = office_reset(accounts, args.login)
    except AccountError as exc:
        return _err(str(exc))
    print(f"login: {record.login}")
    print(f"one-time password: {password}")
    print("Every session of the account has ended; the next sign-in asks for a new password.")
    if record.email:
        mailer = Mailer(settings, retry_delays=CLI_RETRY_DELAYS)
        if not notify_password_changed(mailer, settings, record, "office"):
            print("warning: the password-changed notice could not be queued", file=sys.stderr)
        mailer.flush(60)
        mailer.close()
    if args.letter:
        return write_letter_for(settings, record, password, "reset", args.letter)
    return 0


def cmd_close(args: argparse.Namespace, settings: Settings) -> int:
    accounts = Accounts(settings.accounts_db)
    try:
        record = close_account(accounts, args.login)
    except AccountError as exc:
        return _err(str(exc))
    info = closure(accounts, record, settings.closed_account_retention_days)
    when = info.erase_after.strftime("%Y-%m-%d") if info and info.erase_after else "-"
    print(f"{record.login}: closed; sign-in and password reset refused, every session ended")
    print(f"personal data (e-mail, sign-in history) will be erased after {when}")
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    logins = purge_expired(settings, Accounts(settings.accounts_db))
    for login in logins:
        print(f"{login}: personal data erased")
    if not logins:
        print("nothing to erase")
    return 0


def cmd_mail_retry(args: argparse.Namespace, settings: Settings) -> int:
    mailer = Mailer(settings, retry_delays=CLI_RETRY_DELAYS)
    delivered, failed = mailer.retry_failed()
    print(f"delivered {delivered}, still failed {failed}")
    return 1 if failed else 0
