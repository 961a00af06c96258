"""`ebok demo-setup`: demo data, a `demo` account to try the portal with and a `demo-admin`
staff account for the manager's panel (`scripts/server`).

It joins both halves (the importer publishes generated demo data exactly as `ebok import`
would; the account service opens the account), which is why it lives here and not in either.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ebok.console import fail
from ebok.serve import add_listen_arguments, cmd_serve, local_url
from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from portal.accounts.service import ACTIVE, AccountError, Accounts

DEMO_LOGIN = "demo"
# So that the forgotten-password flow can be tried on the demo (example.com receives no mail).
DEMO_EMAIL = "demo@example.com"
# The panel's demo administrator; its first sign-in sets a password and enrols a TOTP app.
DEMO_STAFF_LOGIN = "demo-admin"


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo-setup",
        help="load demo data if none is published; create the 'demo' and 'demo-admin' accounts",
    )
    demo.add_argument("--serve", action="store_true", help="then serve the portal")
    add_listen_arguments(demo)
    demo.set_defaults(func=cmd_demo_setup)


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
    # The importer, the portal and the panel are imported by the functions that use them:
    # every `ebok` command registers this module's parser, and needs none of them for that.
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
    from portal.accounts.cli import print_password

    # The address it will serve on, for the links it prints.
    settings = settings.with_overrides(host=args.host, port=args.port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if SnapshotStore(settings.snapshots_dir).current() is None:
        try:
            _load_demo_data(settings)
        except Exception as exc:  # a rejected bundle, a full disk: say what, not a traceback
            report = getattr(exc, "report", None)
            return fail(f"loading the demo data failed: {report() if report else exc}")
    accounts = Accounts(settings.accounts_database)
    try:
        record = accounts.by_login(DEMO_LOGIN)
        if record is None:
            premises = demo_premises(settings)
            if not premises:
                return fail("no published premises to link the demo account to")
            record, password = accounts.open_account(DEMO_LOGIN, premises, email=DEMO_EMAIL)
        else:
            # A fresh one-time password each time; the service refuses a closed account.
            record, password = accounts.office_reset(DEMO_LOGIN)
            if record.status != ACTIVE:
                accounts.set_status(record.id, ACTIVE)
            if not record.email:
                accounts.set_email(record.id, DEMO_EMAIL)
    except AccountError as exc:
        return fail(str(exc))
    finally:
        accounts.close()
    print()
    print(f"Demo account, premises: {', '.join(record.premises_ids)}")
    print_password(DEMO_LOGIN, password)
    print("The first sign-in with it asks the resident to set a password of their own.")
    if settings.panel:
        _demo_staff(settings)
    if not settings.smtp_host:
        print(
            f"Mail (e.g. 'Nie pamiętam hasła' for {DEMO_LOGIN}) is written to "
            f"{settings.outbox_dir}/ as .eml files; set EBOK_SMTP_HOST to send it."
        )
    if args.serve:
        print()
        return cmd_serve(args, settings)
    return 0


def _demo_staff(settings: Settings) -> None:
    """Create the demo administrator if it is missing, or give it a fresh one-time password
    while it still has one (the old one was printed only once); one that has been set up is
    left alone."""
    from portal.panel.audit import CLI, AuditLog
    from portal.panel.cli import print_password as print_staff_password
    from portal.panel.roles import ADMIN
    from portal.panel.staff import Staff

    accounts = Accounts(settings.accounts_database)
    try:
        staff, log = Staff(accounts.db), AuditLog(accounts.db)
        member = staff.by_login(DEMO_STAFF_LOGIN)
        print()
        print(f"Manager's panel: {local_url(settings)}/panel/login")
        if member is not None and not member.must_change_password:
            print(
                f"Demo staff account {DEMO_STAFF_LOGIN} ({member.role}, {member.status}) is set"
                f" up; `ebok staff reset {DEMO_STAFF_LOGIN}` issues a new one-time password."
            )
            return
        if member is None:
            member, password = staff.create(DEMO_STAFF_LOGIN, ADMIN)
            action = "staff-created"
        else:
            member, password = staff.reset(DEMO_STAFF_LOGIN)
            action = "staff-reset"
        log.append(action, actor=CLI, target_kind="staff", target=member.login)
        print(f"Demo staff account ({member.role}):")
        print_staff_password(member, password)
        print("Its first sign-in sets a password and adds an authenticator app (TOTP).")
    finally:
        accounts.close()
