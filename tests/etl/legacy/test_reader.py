"""`read_legacy` end to end (etl/legacy/reader.py): only lok.txt and wplaty.txt are required;
the folder or ZIP dropped into the inbox goes through `ebok sync` to `ebok show` and the
resident's pages with each card's closing balance, and the next year's export must continue
the published balance."""

from __future__ import annotations

import html
import json
from decimal import Decimal

from etl.snapshot.store import SnapshotStore
from tests.etl.legacy_builders import (
    ACCOUNT_DIGITS,
    P1,
    P2,
    P3,
    balance,
    communities_toml,
    klonowa,
    read,
)


def test_only_lok_and_wplaty_are_required(tmp_path, toml):
    export = klonowa()
    export.omit = ("nal_czynsz.txt", "pow_czynsz.txt", "klo11_ost_wys.wmb")
    bundle = read(tmp_path, export, toml)
    missing = {w.split(":")[0] for w in bundle.warnings if "missing" in w}
    assert missing == {"KLO11/nal_czynsz.txt", "KLO11/pow_czynsz.txt", "KLO11/*_ost_wys.wmb"}
    (community,) = bundle.tables["communities"].to_dict("records")
    assert (community["as_of"], community["as_of_parts"]) == ("2026-12-31", {})
    for premises_id in (P1, P2, P3):
        assert balance(bundle, premises_id) == export.closing(premises_id)


def sync_and_show(settings, capsys, premises_id: str) -> tuple[int, dict]:
    from ebok.cli import main

    status = main(["--data-dir", str(settings.data_dir), "sync", "--min-age", "0"])
    capsys.readouterr()
    if status != 0:
        return status, {}
    assert main(["--data-dir", str(settings.data_dir), "show", premises_id]) == 0
    return status, json.loads(capsys.readouterr().out)


def test_dropped_folder_syncs_and_shows_the_cards_closing_balances(settings, capsys):
    export = klonowa()
    export.write(settings.inbox_dir)
    # A new user has no communities.toml yet: refused, and the report says what to add.
    status, _ = sync_and_show(settings, capsys, P1)
    assert status == 1
    (report,) = settings.rejected_dir.glob("*.report.txt")
    text = report.read_text("utf-8")
    assert '[communities."KLO11"]' in text and "bank_account" in text
    assert SnapshotStore(settings.snapshots_dir).current() is None

    communities_toml(settings.communities_file)
    export.write(settings.inbox_dir)
    for premises_id in (P1, P2, P3):
        status, shown = sync_and_show(settings, capsys, premises_id)
        assert status == 0
        closing = Decimal(export.closing(premises_id)).scaleb(-2)
        assert Decimal(shown["totals"]["balance"]) == closing
    assert shown["community"]["bank_account"] == ACCOUNT_DIGITS
    assert shown["community"]["fee_notes"]["footer"].startswith("Wpłaty prosimy")
    assert shown["premises"]["payer_name"] == "Źródłowska Ąnna"
    june = next(r for r in shown["ledger"]["rows"] if r[3] == "2026-06")
    assert june[8][0]["description"] == "Zaliczka na koszty zarządu"
    assert not list(settings.inbox_dir.iterdir())  # archived


def test_next_year_continues_the_published_balance_or_is_refused(settings, capsys):
    communities_toml(settings.communities_file)
    first = klonowa(2025)
    first.as_of = "20251231"
    first.write(settings.inbox_dir)
    assert sync_and_show(settings, capsys, P1)[0] == 0
    store = SnapshotStore(settings.snapshots_dir)
    published = store.current().id

    following = klonowa(2026)
    for card in following.cards:  # each opens with a grosz-exact copy of the 2025 closing...
        closing = first.closing(card.premises)
        card.opening_debt, card.opening_surplus = max(-closing, 0), max(closing, 0)
    following.cards[2].opening_surplus += 100  # ...except P3, off by 1,00
    following.write(settings.inbox_dir)
    status, _ = sync_and_show(settings, capsys, P1)
    assert status == 1 and store.current().id == published  # the 2025 data stays
    text = next(settings.rejected_dir.glob("*.report.txt")).read_text("utf-8")
    assert P3 in text and "opening balance" in text

    following.cards[2].opening_surplus -= 100
    following.write(settings.inbox_dir)
    status, shown = sync_and_show(settings, capsys, P3)
    assert status == 0
    assert Decimal(shown["totals"]["balance"]) == Decimal(following.closing(P3)).scaleb(-2)


def test_the_resident_sees_the_cards_closing_balance_breakdown_and_notes(
    settings, capsys, signed_in
):
    from portal.premises.page import premises_url
    from portal.web.format import money

    communities_toml(settings.communities_file)
    export = klonowa()
    export.write(settings.inbox_dir)
    assert sync_and_show(settings, capsys, P1)[0] == 0
    resident = signed_in(P1, login="kowalski")

    overview = resident.get(premises_url(P1))
    assert overview.status_code == 200
    assert html.unescape(money(export.closing(P1))) in html.unescape(overview.text)
    ledger = html.unescape(resident.get(premises_url(P1, "ledger")).text)
    assert "Wyrównanie zaliczek" in ledger and "Bilans otwarcia" in ledger
    fees = html.unescape(resident.get(premises_url(P1, "fees")).text)
    assert "od 1 stycznia zmieniają się stawki" in fees
    assert "Wpłaty prosimy kierować na rachunek wspólnoty." in fees
    assert resident.get(premises_url(P2)).status_code in (403, 404)  # not this resident's


def test_a_zip_dropped_into_the_inbox_syncs_too(settings, capsys):
    communities_toml(settings.communities_file)
    export = klonowa()
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    export.write_zip(settings.inbox_dir / "KLO11.zip", top_folder=False)
    status, shown = sync_and_show(settings, capsys, P2)
    assert status == 0
    assert Decimal(shown["totals"]["balance"]) == Decimal(export.closing(P2)).scaleb(-2)
    assert shown["community"]["community_id"] == "KLO11"
