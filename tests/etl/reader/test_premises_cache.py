"""A re-import takes the premises of an unchanged file from the last import's cache
(etl.reader.table_cache) only when their communities' places (the postal code and city an
empty one takes) are the same too: the same table and problems as validating them anew."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from etl.model import BundleRejected
from etl.reader import table_cache, validate
from etl.reader.bundle import read_bundle
from etl.snapshot.store import SnapshotStore
from tests.builders import make_document, publish_documents
from tests.etl.builders import flipped, minimal_tables, write_csv, write_csv_bundle


class _Validated:
    """Counts the premises tables validated (those not taken from the cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = validate.premises

        def counting(raw, problems, places):  # type: ignore[no-untyped-def]
            self.count += 1
            return real(raw, problems, places)

        monkeypatch.setattr(validate, "premises", counting)


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> _Validated:
    return _Validated(monkeypatch)


def _tables(occupants: str = "some empty") -> dict[str, list[dict[str, Any]]]:
    """The minimal bundle with a second community and 60 premises more (first), some without
    a postal code, a city or a payer's address (their community's are taken)."""
    tables = minimal_tables()
    community = tables["communities"][0]
    tables["communities"].append(
        {**community, "community_id": "WM-LI3", "postal_code": "30002", "city": "Wieliczka"}
    )
    tables["premises"] = [
        {
            "premises_id": f"LI3/{i}",
            "community_id": "WM-LI3" if i % 2 else "WM-KW5",
            "number": str(i),
            "street": "ul. Lipowa 3",
            "postal_code": "" if i % 3 else "31-100",
            "city": "" if i % 4 else "Skawina",
            "kind": "mieszkalny" if i % 5 else "garaż",
            "area_m2": f"{40 + i},{i % 100:02d}",
            "share": f"{i + 1}/10000",
            "occupants": str(i % 6) if i % 7 else "",
            "payer_name": f"Płatnik {i}",
            "payer_address": "" if i % 2 else f"ul. Długa {i}, 30-200 Kraków",
            "email": f"lokal{i}@example.pl" if i % 3 == 0 else "",
        }
        for i in range(60)
    ] + tables["premises"]  # first: its keys are the header
    for row in tables["premises"]:
        if occupants == "all given":
            row["occupants"] = row["occupants"] or "1"
        elif occupants == "none given":
            row["occupants"] = ""
    return tables


def _premises(path: Path, data: Path | None, **kwargs: Any) -> pd.DataFrame:
    work = data / "work" if data else None
    return read_bundle(path, work_dir=work, **kwargs).tables["premises"]


def _entry(data: Path) -> Path:
    return data / "cache" / table_cache.FOLDER / "premises.arrow"


@pytest.mark.parametrize("occupants", ["some empty", "all given", "none given"])
def test_premises_from_the_cache_are_those_validated_anew(
    tmp_path: Path, validated: _Validated, occupants: str
) -> None:
    path = write_csv_bundle(tmp_path / "b", _tables(occupants), names={"premises": "lokale.csv"})
    data = tmp_path / "data"
    fresh = _premises(path, None)
    first = _premises(path, data)
    assert validated.count == 2 and _entry(data).is_file()

    again = _premises(path, data)
    assert validated.count == 2  # not validated: the cache's frame
    pd.testing.assert_frame_equal(again, fresh)
    pd.testing.assert_frame_equal(again, first)
    assert [type(v) for v in again["occupants"]] == [type(v) for v in fresh["occupants"]]
    assert again["_file"].tolist() == ["lokale.csv"] * 62
    assert again["postal_code"].tolist()[:4] == ["31-100", "30-002", "30-001", "31-100"]
    assert again["city"].tolist()[:3] == ["Skawina", "Wieliczka", "Kraków"]


@pytest.mark.parametrize(
    ("column", "value", "validated_again"),
    [
        ("postal_code", "31-234", True),
        ("city", "Kraków-Podgórze", True),
        ("name", "WM Lipowa", False),
    ],
)
def test_other_places_in_the_communities_file_validate_the_premises_anew(
    tmp_path: Path, validated: _Validated, column: str, value: str, validated_again: bool
) -> None:
    tables = _tables()
    path = write_csv_bundle(tmp_path / "b", tables)
    data = tmp_path / "data"
    _premises(path, data)
    lokale = (path / "premises.csv").read_bytes()
    tables["communities"][1][column] = value  # WM-LI3: a premises file's row takes its place
    write_csv_bundle(path, tables)
    assert (path / "premises.csv").read_bytes() == lokale

    again = _premises(path, data)
    assert validated.count == (2 if validated_again else 1)
    pd.testing.assert_frame_equal(again, _premises(path, None))
    row = again.iloc[1]  # LI3/1: no postal code, no city of its own
    assert (row["postal_code"], row["city"]) == (
        "31-234" if column == "postal_code" else "30-002",
        "Kraków-Podgórze" if column == "city" else "Wieliczka",
    )


def test_a_previous_generation_giving_other_places_validates_the_premises_anew(
    tmp_path: Path, store: SnapshotStore, validated: _Validated
) -> None:
    def published(postal_code: str, city: str):  # type: ignore[no-untyped-def]
        document = make_document("OG/1", community_id="WM-OG")
        document["community"].update(postal_code=postal_code, city=city)
        return publish_documents(store, [document])

    premises = [
        {
            "premises_id": f"OG/{i}",
            "community_id": "WM-OG",
            "number": str(i),
            "street": "ul. Ogrodowa 2",
            "payer_name": "Anna Nowak",
        }
        for i in (1, 2)
    ]
    path = write_csv(tmp_path / "lokale.csv", premises)
    data = tmp_path / "data"
    previous = published("30-001", "Kraków")
    assert _premises(path, data, previous=previous)["city"].tolist() == ["Kraków"] * 2
    assert _premises(path, data, previous=previous)["city"].tolist() == ["Kraków"] * 2
    assert validated.count == 1

    previous = published("32-020", "Wieliczka")
    again = _premises(path, data, previous=previous)
    assert validated.count == 2
    assert again["postal_code"].tolist() == ["32-020"] * 2
    assert again["payer_address"].tolist()[0] == "ul. Ogrodowa 2/1, 32-020 Wieliczka"
    pd.testing.assert_frame_equal(again, _premises(path, None, previous=previous))


def test_premises_with_a_problem_are_not_kept(tmp_path: Path, validated: _Validated) -> None:
    tables = _tables()
    path = write_csv_bundle(tmp_path / "b", tables)
    data = tmp_path / "data"
    _premises(path, data)
    assert _entry(data).is_file()
    tables["premises"][5]["share"] = "2/1"
    tables["premises"][9]["occupants"] = "dwie"
    write_csv_bundle(path, tables)
    with pytest.raises(BundleRejected) as fresh:
        read_bundle(path)
    expected = [(p.table, p.row, p.column, p.value, p.reason) for p in fresh.value.problems]
    assert [(table, row) for table, row, *_ in expected] == [("premises", 7), ("premises", 11)]
    for _ in range(2):
        with pytest.raises(BundleRejected) as rejected:
            _premises(path, data)
        found = [(p.table, p.row, p.column, p.value, p.reason) for p in rejected.value.problems]
        assert found == expected
        assert not _entry(data).exists()  # the clean file's entry went
    assert validated.count == 4  # the clean file, then the fresh reading and each import


@pytest.mark.parametrize("damage", ["cut short", "a byte changed", "empty"])
def test_a_damaged_premises_entry_is_ignored(
    tmp_path: Path, validated: _Validated, damage: str
) -> None:
    path = write_csv_bundle(tmp_path / "b", _tables())
    data = tmp_path / "data"
    expected = _premises(path, data)
    entry = _entry(data)
    content = entry.read_bytes()
    if damage == "cut short":
        entry.write_bytes(content[: len(content) // 2])
    elif damage == "a byte changed":
        at = len(content) // 3
        entry.write_bytes(flipped(content, at))
    else:
        entry.write_bytes(b"")

    again = _premises(path, data)  # no traceback: validated anew
    assert validated.count == 2
    pd.testing.assert_frame_equal(again, expected)
    assert entry.read_bytes() == content  # and kept again, whole
    _premises(path, data)
    assert validated.count == 2
