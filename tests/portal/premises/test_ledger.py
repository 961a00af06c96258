import csv
import io

from portal.premises import ledger
from tests.builders import ledger_row, make_document


def _doc(rows):
    return make_document(ledger=rows)


def test_running_balance_is_payments_minus_charges_in_published_order():
    doc = _doc(
        [
            ledger_row("2025-12-01", "Naliczenie 12/2025", charge=30000, row=2),
            ledger_row("2025-12-20", "Wpłata", payment=50000, row=3),
            ledger_row("2026-01-10", "Wyrównanie zaliczek", charge=-5000, row=4),
        ]
    )
    rows = ledger.entries(doc)
    assert [e.balance for e in rows] == [-30000, 20000, 25000]
    assert rows[-1].balance == doc["totals"]["balance"]


def test_columns_are_read_by_name():
    doc = _doc([ledger_row("2026-01-01", "Wpłata", payment=100, document="WB/1", row=7)])
    doc["ledger"]["columns"] = list(reversed(doc["ledger"]["columns"]))
    doc["ledger"]["rows"] = [list(reversed(r)) for r in doc["ledger"]["rows"]]
    (e,) = ledger.entries(doc)
    assert (e.date, e.document, e.payment, e.row) == ("2026-01-01", "WB/1", 100, 7)


def test_year_filter_and_opening_balance():
    rows = ledger.entries(
        _doc(
            [
                ledger_row("2024-06-01", "A", charge=100, row=2),
                ledger_row("2025-03-01", "B", charge=200, row=3),
                ledger_row("2026-01-01", "C", payment=1000, row=4),
            ]
        )
    )
    assert ledger.years(rows) == [2026, 2025, 2024]
    assert [e.description for e in ledger.filter_year(rows, 2025)] == ["B"]
    assert ledger.opening_balance(rows, 2025) == -100
    assert ledger.opening_balance(rows, 2026) == -300
    assert ledger.opening_balance(rows, None) == 0
    assert len(ledger.filter_year(rows, None)) == 3


def test_pagination_clamps_out_of_range_pages():
    rows = ledger.entries(
        _doc([ledger_row("2026-01-01", f"r{i}", charge=1, row=i + 2) for i in range(120)])
    )
    first = ledger.paginate(rows, 1, per_page=50)
    assert (first.number, first.pages, first.total, len(first.items)) == (1, 3, 120, 50)
    assert not first.has_previous and first.has_next
    last = ledger.paginate(rows, 99, per_page=50)
    assert (last.number, len(last.items)) == (3, 20)
    assert last.items[-1].description == "r119"
    assert ledger.paginate([], 1).pages == 1


def test_csv_opens_in_polish_excel():
    rows = ledger.entries(
        _doc(
            [
                ledger_row("2026-01-10", "Naliczenie; styczeń", charge=123456, row=2),
                ledger_row("2026-01-15", "Wpłata", payment=5, document="WB/1", row=3),
                ledger_row("2026-01-20", '=HYPERLINK("x")', charge=0, row=4),
            ]
        )
    )
    data = ledger.to_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    parsed = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert parsed[0] == ["Data", "Dokument", "Opis", "Okres", "Obciążenie", "Wpłata", "Saldo"]
    assert parsed[1] == ["10.01.2026", "", "Naliczenie; styczeń", "", "1234,56", "0,00", "-1234,56"]
    assert parsed[2][:2] == ["15.01.2026", "WB/1"]
    assert parsed[2][5:] == ["0,05", "-1234,51"]
    # A cell Excel would evaluate as a formula is kept as text.
    assert parsed[3][2] == '\'=HYPERLINK("x")'


def test_csv_filename_is_safe():
    assert ledger.csv_filename("KW5/12", 2026) == "obroty-KW5_12-2026.csv"
    assert ledger.csv_filename('../"a b"\r\n', None) == "obroty-a_b.csv"
    assert ledger.csv_filename("ąę", None) == "obroty-lokal.csv"


def test_year_summaries_carry_each_closing_into_the_next_year():
    rows = ledger.entries(
        _doc(
            [
                ledger_row("2024-01-01", "Bilans otwarcia", charge=5000, row=2),
                ledger_row("2024-06-01", "Naliczenie", charge=123456, row=3),
                ledger_row("2024-06-15", "Wpłata", payment=100000, row=4),
                ledger_row("2026-01-10", "Naliczenie", charge=1000, row=5),
                ledger_row("2026-01-20", "Wpłata", payment=30000, row=6),
                ledger_row("2026-02-01", "Korekta", charge=-456, row=7),
            ]
        )
    )
    summaries = ledger.year_summaries(rows)
    assert [(s.year, s.opening, s.charges, s.payments, s.closing) for s in summaries] == [
        (2024, 0, 128456, 100000, -28456),
        (2026, -28456, 544, 30000, 1000),
    ]
    assert summaries[-1].closing == rows[-1].balance
    assert summaries[1].opening == ledger.opening_balance(rows, 2026)
    assert ledger.year_summaries([]) == []


def test_csv_of_one_year_begins_with_the_balance_carried_into_it():
    rows = ledger.entries(
        _doc(
            [
                ledger_row("2025-03-01", "Naliczenie", charge=123456, row=2),
                ledger_row("2026-01-10", "Wpłata", payment=100000, row=3),
            ]
        )
    )
    text = ledger.to_csv(ledger.filter_year(rows, 2026), 2026, ledger.opening_balance(rows, 2026))
    parsed = list(csv.reader(io.StringIO(text.decode("utf-8-sig")), delimiter=";"))
    assert parsed[1] == ["01.01.2026", "", "Saldo otwarcia", "", "", "", "-1234,56"]
    assert parsed[2] == ["10.01.2026", "", "Wpłata", "", "0,00", "1000,00", "-234,56"]
    # The whole history starts from nothing: no opening line.
    whole = list(csv.reader(io.StringIO(ledger.to_csv(rows).decode("utf-8-sig")), delimiter=";"))
    assert [r[2] for r in whole[1:]] == ["Naliczenie", "Wpłata"]
