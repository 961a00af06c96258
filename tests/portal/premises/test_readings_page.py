"""/premises/<id>/readings ("Odczyty liczników"): exact figures, a chart with its text
alternative, the tab only where there are readings, and the same access check as every
premises page; plus the demo data showing all three of issue 13's tables."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ebok.cli import main
from etl.demo.generate import generate
from etl.snapshot.document import READING_COLUMNS
from etl.snapshot.store import SnapshotStore
from portal.premises import community, readings
from tests.builders import make_document, publish_documents

NBSP = "\u00a0"


def _text(html: str) -> str:
    html = re.sub(r"<(script|style|title)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(NBSP, " ")


def reading(meter: str, serial: str, day: str, value: str, consumption: str, unit: str = "m³"):
    return [meter, serial, day, value, unit, consumption, "odczyty.csv", 2]


ROWS = [
    reading("cold_water", "ZW-1", "2026-08-31", "100.125", ""),
    reading("cold_water", "ZW-1", "2026-09-30", "103.225", "3.1"),
    reading("cold_water", "ZW-2", "2026-09-30", "10.001", "0.2"),  # a second cold meter
    reading("cold_water", "ZW-1", "2026-10-31", "105.425", "2.2"),
    reading("heat", "CO-7", "2026-10-31", "12.345", "0.75", "GJ"),
]


def with_readings(premises_id: str = "KW5/12", rows=ROWS, **kw) -> dict:
    document = make_document(premises_id, **kw)
    document["readings"] = {"columns": list(READING_COLUMNS), "rows": rows}
    return document


def test_the_readings_page_shows_exact_figures_and_a_chart(store, signed_in):
    publish_documents(store, [with_readings()])
    client = signed_in("KW5/12")
    overview = client.get("/premises/KW5%2F12")
    assert 'href="/premises/KW5%2F12/readings">Odczyty liczników</a>' in overview.text
    page = client.get("/premises/KW5%2F12/readings")
    assert page.status_code == 200
    assert 'aria-current="page">Odczyty liczników' in page.text
    text = _text(page.text)
    # September: 3,1 + 0,2 of two cold water meters = 3,3 exactly.
    assert (
        "Zimna woda: zużycie od 09.2026 do 10.2026, razem 5,5 m³; najwięcej 3,3 m³ (09.2026), "
        "najmniej 2,2 m³ (10.2026)."
    ) in text
    assert "Ciepło: zużycie od 10.2026 do 10.2026, razem 0,75 GJ" in text
    # A table per meter, newest first; the first reading has no consumption to show.
    assert re.search(
        r"Zimna woda \(m³\) – licznik nr ZW-1 Data odczytu Stan Zużycie "
        r"31\.10\.2026 105,425 2,2 30\.09\.2026 103,225 3,1 31\.08\.2026 100,125 — "
        r"Zimna woda \(m³\) – licznik nr ZW-2 .* 30\.09\.2026 10,001 0,2 "
        r"Ciepło \(GJ\) – licznik nr CO-7 .* 31\.10\.2026 12,345 0,75",
        text,
    ), text
    svg = re.findall(r"<svg.*?</svg>", page.text, flags=re.S)
    assert len(svg) == 2 and all('role="img"' in s and "<desc" in s for s in svg)
    assert "<title>09.2026: 3,3 m³</title>" in svg[0]
    assert "style=" not in page.text  # colours from CSS classes: the CSP allows no inline style


def test_series_sum_in_decimal_never_float():
    [cold, heat] = readings.series([readings.Reading(*r) for r in ROWS])
    assert cold.months == [("2026-09", Decimal("3.3")), ("2026-10", Decimal("2.2"))]
    assert heat.months == [("2026-10", Decimal("0.75"))]
    many = [reading("gas", "G", f"2026-{m:02d}-28", "1", "0.1") for m in range(1, 13)] * 3
    [gas] = readings.series([readings.Reading(*r) for r in many])
    assert sum((v for _, v in gas.months), Decimal(0)) == Decimal("3.6")


def test_no_tab_and_a_plain_sentence_where_there_are_no_readings(store, signed_in):
    publish_documents(store, [make_document("KW5/12")])
    client = signed_in("KW5/12")
    assert "/readings" not in client.get("/premises/KW5%2F12").text
    page = client.get("/premises/KW5%2F12/readings")
    assert page.status_code == 200
    assert "Dla tego lokalu nie opublikowano odczytów liczników." in _text(page.text)


def test_another_residents_readings_are_404(store, signed_in):
    publish_documents(store, [with_readings(), with_readings("KW5/13", number="13")])
    client = signed_in("KW5/12")
    assert client.get("/premises/KW5%2F13/readings").status_code == 404
    assert client.get("/premises/KW5%2F99/readings").status_code == 404


@pytest.mark.slow
def test_the_demo_shows_documents_an_announcement_and_readings(
    tmp_path: Path, settings, signed_in, monkeypatch
):
    """What `ebok demo-setup` publishes, seen by a resident (its own data dir)."""
    monkeypatch.setattr(community, "today", lambda: date(2026, 11, 29))
    bundle = tmp_path / "demo"
    summary = generate(bundle, communities=2, premises=12, months=6)
    assert main(["--data-dir", str(settings.data_dir), "import", str(bundle)]) == 0
    generation = SnapshotStore(settings.snapshots_dir).current()
    flat = next(d for d in generation.documents() if d["premises"]["kind"] == "mieszkalny")
    pid, cid = flat["premises_id"], flat["community"]["community_id"]
    client = signed_in(pid)
    home = client.get("/")
    assert home.status_code == 200
    assert "Dyżury zarządcy" in home.text and "Odczyt wodomierzy" in home.text
    assert "Zebranie ogółu" not in home.text  # ended before the as-of date
    listing = client.get("/documents")
    assert listing.text.count("Pobierz PDF") == 5
    url = re.search(r'href="(/documents/[0-9a-f]{64})"', listing.text).group(1)
    assert client.get(url).content.startswith(b"%PDF-")
    page = client.get(f"/premises/{pid.replace('/', '%2F')}/readings")
    assert "Zimna woda" in _text(page.text) and "<svg" in page.text
    assert cid in summary.community_ids
