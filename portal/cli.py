"""`ebok serve`, `ebok accounts ...` and `ebok demo-setup`.

Accounts are created by the manager, never by self-registration: `create` prints a one-time
password to hand over (on paper or by phone); the first sign-in with it asks for a new one.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from portal.accounts import passwords
from portal.accounts.cli import register_account_commands
from portal.accounts.service import ACTIVE, CLOSED, DISABLED, AccountError, AccountRecord, Accounts

DEMO_LOGIN = "demo"
# So that the forgotten-password flow can be tried on the demo (example.com receives no mail).
DEMO_EMAIL = "demo@example.com"


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="serve the resident portal (uvicorn)")
    serve.add_argument("--host", help="address to listen on (default: $EBOK_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: $EBOK_PORT or 8000)")
    serve.set_defaults(func=cmd_serve)

    demo = subparsers.add_parser(
        "demo-setup", help="load demo data if none is published; create the 'demo' account"
    )
    demo.add_argument("--serve", action="store_true", help="then serve the portal")
    demo.add_argument("--host", help="with --serve: address to listen on")
    demo.add_argument("--port", type=int, help="with --serve: port")
    demo.set_defaults(func=cmd_demo_setup)

    accounts = subparsers.add_parser("accounts", help="manage resident accounts")
    sub = accounts.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)

    create = sub.add_parser("create", help="create an account; prints a one-time password")
    create.add_argument("--login", required=True)
    create.add_argument("--premises", action="append", required=True, metavar="ID")
    create.add_argument("--email")
    create.set_defaults(func=cmd_create)

    listing = sub.add_parser("list", help="list accounts")
    listing.set_defaults(func=cmd_list)

    for name, func, text in (
        ("disable", cmd_disable, "block sign-in and end every session of the account"),
        ("enable", cmd_enable, "allow sign-in again"),
        ("reset-password", cmd_reset_password, "new one-time password; ends every session"),
    ):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("--login", required=True)
        parser.set_defaults(func=func)

    for name, func, text in (
        ("link", cmd_link, "give the account access to a premises"),
        ("unlink", cmd_unlink, "take a premises away from the account"),
    ):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("--login", required=True)
        parser.add_argument("--premises", action="append", required=True, metavar="ID")
        parser.set_defaults(func=func)

    set_email = sub.add_parser("set-email", help="set (or with --clear remove) the e-mail")
    set_email.add_argument("--login", required=True)
    group = set_email.add_mutually_exclusive_group(required=True)
    group.add_argument("--email")
    group.add_argument("--clear", action="store_true")
    set_email.set_defaults(func=cmd_set_email)

    register_account_commands(sub)


# -- helpers ----------------------------------------------------------------------------------
def _err(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _warn_unknown_premises(settings: Settings, premises_ids: Iterable[str]) -> None:
    """Linking ahead of an import is legitimate (a new flat), so only warn."""
    generation = SnapshotStore(settings.snapshots_dir).current()
    if generation is None:
        print("warning: no data published yet; premises ids not checked", file=sys.stderr)
        return
    for pid in premises_ids:
        if generation.document_json(pid) is None:
            print(
                f"warning: premises {pid!r} is not in the current data "
                f"(generation {generation.id}); the resident will not see it until it is",
                file=sys.stderr,
            )


def _valid_email(email: str) -> bool:
    local, at, domain = email.partition("@")
    return bool(local and at and "." in domain and not any(c.isspace() for c in email))


def _print_password(login: str, password: str) -> None:
    print(f"login: {login}")
    print(f"one-time password: {password}")
    print("The first sign-in with it asks the resident to set a password of their own.")


def _describe(record: AccountRecord, note: str = "") -> str:
    last = record.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if record.last_login_at else "-"
    flags = " (must change password)" if record.must_change_password else ""
    flags = f" ({note})" if note else flags
    return "\t".join(
        (
            record.login,
            record.status + flags,
            ",".join(record.premises_ids) or "-",
            record.email or "-",
            last,
        )
    )


def reset_one_time_password(accounts: Accounts, record: AccountRecord) -> str:
    password = passwords.generate_one_time_password()
    accounts.set_password(record.id, passwords.hash_password(password), must_change=True)
    return password


# -- commands ---------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from portal.app import create_app

    settings = settings.with_overrides(host=args.host, port=args.port)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"EBOK portal: http://{host}:{settings.port}/", flush=True)
    # The portal's own loggers (ebok.*: mail delivery, account events) next to uvicorn's.
    logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.email is not None and not _valid_email(args.email):
        return _err(f"{args.email!r} is not an e-mail address")
    letter = getattr(args, "letter", None)  # added by portal.accounts.cli
    if letter:
        from portal.accounts.cli import check_letter_path

        if problem := check_letter_path(letter):
            return _err(problem)
    accounts = Accounts(settings.accounts_db)
    password = passwords.generate_one_time_password()
    try:
        record = accounts.create(
            args.login,
            passwords.hash_password(password),
            args.premises,
            email=args.email,
            must_change_password=True,
        )
    except AccountError as exc:
        return _err(str(exc))
    _warn_unknown_premises(settings, args.premises)
    _print_password(record.login, password)
    if letter:
        from portal.accounts.cli import write_letter_for

        return write_letter_for(settings, record, password, "activation", letter)
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from portal.accounts.lifecycle import closure

    accounts = Accounts(settings.accounts_db)
    print("login\tstatus\tpremises\temail\tlast sign-in")
    for record in accounts.list():
        info = closure(accounts, record, settings.closed_account_retention_days)
        note = ""
        if info is not None:
            erase = info.erase_after.strftime("%Y-%m-%d") if info.erase_after else "?"
            note = "personal data erased" if info.erased else f"data erased after {erase}"
        print(_describe(record, note))
    return 0


def _with_account(args: argparse.Namespace, settings: Settings) -> tuple[Accounts, AccountRecord]:
    accounts = Accounts(settings.accounts_db)
    return accounts, accounts.require(args.login)


def cmd_disable(args: argparse.Namespace, settings: Settings) -> int:
    try:
        accounts, record = _with_account(args, settings)
        accounts.set_status(record.id, DISABLED)
    except AccountError as exc:
        return _err(str(exc))
    print(f"{record.login}: disabled; every session ended")
    return 0


def cmd_enable(args: argparse.Namespace, settings: Settings) -> int:
    try:
        accounts, record = _with_account(args, settings)
        accounts.set_status(record.id, ACTIVE)
    except AccountError as exc:
        return _err(str(exc))
    print(f"{record.login}: enabled")
    return 0


def cmd_reset_password(args: argparse.Namespace, settings: Settings) -> int:
    try:
        accounts, record = _with_account(args, settings)
    except AccountError as exc:
        return _err(str(exc))
    _print_password(record.login, reset_one_time_password(accounts, record))
    return 0


def cmd_link(args: argparse.Namespace, settings: Settings) -> int:
    try:
        accounts, record = _with_account(args, settings)
        for pid in args.premises:
            new = accounts.link(record.id, pid)
            print(f"{record.login}: {'linked' if new else 'already linked'} {pid}")
    except AccountError as exc:
        return _err(str(exc))
    _warn_unknown_premises(settings, args.premises)
    return 0


def cmd_unlink(args: argparse.Namespace, settings: Settings) -> int:
    try:
        accounts, record = _with_account(args, settings)
    except AccountError as exc:
        return _err(str(exc))
    status = 0
    for pid in args.premises:
        if accounts.unlink(record.id, pid):
            print(f"{record.login}: unlinked {pid}")
        else:
            print(f"error: {record.login} is not linked to {pid!r}", file=sys.stderr)
            status = 1
    return status


def cmd_set_email(args: argparse.Namespace, settings: Settings) -> int:
    email = None if args.clear else args.email.strip()
    if email is not None and not _valid_email(email):
        return _err(f"{email!r} is not an e-mail address")
    try:
        accounts, record = _with_account(args, settings)
        accounts.set_email(record.id, email)
    except AccountError as exc:
        return _err(str(exc))
    print(f"{record.login}: e-mail {'removed' if email is None else 'set to ' + email}")
    return 0


# -- demo -------------------------------------------------------------------------------------
def demo_premises(settings: Settings) -> list[str]:
    """What the demo account holds: two premises of one payer if the data has such, else a flat
    and a garage (or other non-flat) of one community, else the first premises."""
    generation = SnapshotStore(settings.snapshots_dir).current()
    if generation is None:
        return []
    by_payer: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_community: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for doc in generation.documents():
        pid, cid = doc["premises_id"], doc["community"]["community_id"]
        premises = doc.get("premises", {})
        if premises.get("payer_name"):
            by_payer[(cid, premises["payer_name"])].append(pid)
        flat = premises.get("kind") in ("mieszkalny", "lokal mieszkalny")
        by_community[cid]["flats" if flat else "others"].append(pid)
    shared = sorted(sorted(ids) for ids in by_payer.values() if len(ids) >= 2)
    if shared:
        return shared[0][:2]
    for cid in sorted(by_community):
        kinds = by_community[cid]
        if kinds["flats"] and kinds["others"]:
            return [min(kinds["flats"]), min(kinds["others"])]
    every = sorted(p for kinds in by_community.values() for ids in kinds.values() for p in ids)
    return every[:1]


def _load_demo_data(settings: Settings) -> None:
    """Generate the small demo export and publish it exactly as `ebok import` would."""
    from etl.demo.generate import generate
    from etl.sync import import_lock, import_path, summary_line

    store = SnapshotStore(settings.snapshots_dir)
    with tempfile.TemporaryDirectory(prefix="ebok-demo-") as tmp:
        out = Path(tmp) / "export"
        out.mkdir()
        print("No data published yet: generating and importing demo data ...", flush=True)
        generate(out, communities=3, premises=60, months=24)
        started = time.perf_counter()
        with import_lock(settings, wait=True):
            result = import_path(out, settings, store)
    print(summary_line("demo data", result, time.perf_counter() - started))


def cmd_demo_setup(args: argparse.Namespace, settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if SnapshotStore(settings.snapshots_dir).current() is None:
        try:
            _load_demo_data(settings)
        except Exception as exc:  # a rejected bundle, a full disk: say what, not a traceback
            report = getattr(exc, "report", None)
            return _err(f"loading the demo data failed: {report() if report else exc}")
    accounts = Accounts(settings.accounts_db)
    record = accounts.by_login(DEMO_LOGIN)
    if record is None:
        premises = demo_premises(settings)
        if not premises:
            return _err("no published premises to link the demo account to")
        password = passwords.generate_one_time_password()
        accounts.create(DEMO_LOGIN, passwords.hash_password(password), premises, email=DEMO_EMAIL)
    else:
        if record.status == CLOSED:
            return _err(f"the '{DEMO_LOGIN}' account is closed; closed accounts stay closed")
        if record.status != ACTIVE:
            accounts.set_status(record.id, ACTIVE)
        if not record.email:
            accounts.set_email(record.id, DEMO_EMAIL)
        password = reset_one_time_password(accounts, record)
        premises = list(accounts.require(DEMO_LOGIN).premises_ids)
    print()
    print(f"Demo account, premises: {', '.join(premises)}")
    _print_password(DEMO_LOGIN, password)
    if not settings.smtp_host:
        print(
            f"Mail (e.g. 'Nie pamiętam hasła' for {DEMO_LOGIN}) is written to "
            f"{settings.outbox_dir}/ as .eml files; set EBOK_SMTP_HOST to send it."
        )
    if args.serve:
        print()
        return cmd_serve(args, settings)
    return 0
