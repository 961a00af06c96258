import xml.etree.ElementTree as ET

from portal.premises import chart, ledger
from tests.builders import ledger_row, make_document

SVG = "{http://www.w3.org/2000/svg}"


def _points(rows):
    return chart.daily_balances(ledger.entries(make_document(ledger=rows)))


def test_daily_balance_keeps_the_last_row_of_each_day():
    points = _points(
        [
            ledger_row("2026-01-10", "Naliczenie", charge=45000, row=2),
            ledger_row("2026-01-10", "Wpłata", payment=40000, row=3),
            ledger_row("2026-02-10", "Naliczenie", charge=45000, row=4),
        ]
    )
    assert [(p.day.isoformat(), p.balance) for p in points] == [
        ("2026-01-10", -5000),
        ("2026-02-10", -50000),
    ]
    assert chart.month_end_balances(points) == [("01.2026", -5000), ("02.2026", -50000)]


def test_svg_is_well_formed_accessible_and_free_of_style_attributes():
    points = _points(
        [
            ledger_row("2026-01-01", "Wpłata", payment=120000, row=2),
            ledger_row("2026-03-10", "Naliczenie", charge=200000, row=3),
        ]
    )
    svg = str(chart.render_svg(points))
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Saldo w czasie"
    desc = root.find(f"{SVG}desc").text
    assert "1 200,00 zł" in desc.replace("\u00a0", " ")
    assert "-800,00 zł" in desc.replace("\u00a0", " ")
    assert (
        "style=" not in svg
        and "<script" not in svg
        and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    # The zero line is drawn between the highest (positive) and lowest (negative) balance.
    zero = root.find(f"{SVG}line[@class='chart-zero']")
    ys = [float(v.split(",")[1]) for v in root.find(f"{SVG}polyline").get("points").split()]
    assert min(ys) < float(zero.get("y1")) < max(ys)


def test_no_rows_no_chart_but_a_sentence():
    assert chart.render_svg([]) == ""
    assert chart.describe([]) == "Brak operacji na koncie."


def test_a_single_day_and_a_flat_balance_still_draw():
    svg = str(chart.render_svg(_points([ledger_row("2026-01-01", "Wpłata", payment=0, row=2)])))
    root = ET.fromstring(svg)
    assert len(root.find(f"{SVG}polyline").get("points").split()) == 2
