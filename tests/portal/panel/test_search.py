"""The office's search finds exactly what a plain scan finds, however it gets there: premises by
every word of the query (portal.panel.search.PremisesIndex: trigrams of the lines' words, a
merge of their lines, or a scan of every line) and accounts by a field containing the text
(Accounts.find: a folded copy of the fields, kept while the database is unchanged, against
the SQL it stands for)."""

from __future__ import annotations

import random
import threading

import pytest

from portal.accounts.passwords import hash_password
from portal.accounts.service import Holder
from portal.panel import search
from portal.panel.search import COUNT_LIMIT, Found, Premises, PremisesIndex, fold

STREETS = ["ul. Kwiatowa", "ul. Lipowa", "al. Róży Wiatrów", "pl. Łódzki", "ul. Żółkiewskiego"]
TOWNS = [("30-001", "Kraków"), ("90-001", "Łódź"), ("65-861", "Zielona Góra")]
NAMES = ["Jan Kowalski", "Anna Kowalska", "Zofia Ślązak", "Łucja Żółkiewska", "", "Ewa Nowak"]


def premises(count: int, seed: int = 7) -> list[Premises]:
    rnd = random.Random(seed)
    found = []
    for n in range(1, count + 1):
        street = rnd.choice(STREETS)
        building = rnd.randint(1, 40)
        postal, town = rnd.choice(TOWNS)
        found.append(
            Premises(
                f"{street.split()[-1][:2].upper()}{building}/{n}",
                f"{street} {building}/{n}, {postal} {town}",
                rnd.choice(NAMES),
                f"Wspólnota Mieszkaniowa {street.split(maxsplit=1)[1]} {building}",
            )
        )
    return sorted(found, key=lambda p: p.premises_id)


def scanned(items: list[Premises], query: str, limit: int = search.LIMIT) -> Found:
    """What the search must answer, by checking every line."""
    words = fold(query).split()
    if not words:
        return Found([], 0)
    lines, ids = _folded(items)
    hits = []
    for i, line in enumerate(lines):
        if all(w in line for w in words):
            hits.append(i)
            if len(hits) > COUNT_LIMIT:
                break
    exact = ids.get(fold(query))
    if exact is not None:
        if exact in hits:
            hits.remove(exact)
        hits.insert(0, exact)
    return Found([items[i] for i in hits[:limit]], len(hits))


_cache: dict[int, tuple[list[str], dict[str, int]]] = {}


def _folded(items: list[Premises]) -> tuple[list[str], dict[str, int]]:
    """The premises' folded lines and folded ids (kept for the one list a test uses)."""
    if id(items) not in _cache:
        _cache.clear()
        _cache[id(items)] = (
            [fold(f"{p.premises_id} {p.address} {p.payer} {p.community}") for p in items],
            {fold(p.premises_id): i for i, p in enumerate(items)},
        )
    return _cache[id(items)]


def queries(items: list[Premises], count: int, seed: int = 3) -> list[str]:
    """Pieces of the lines' words (short and long, ids, numbers, Polish letters in any case),
    one or two to a query, and a few that match nothing."""
    rnd = random.Random(seed)
    found = ["kowal", "KOWALSKA", "łódź", "lodz 1/", "zielona gora", "ul.", "a", "1", "/1",
             "wspólnota", "  ", "xyz", "ab12", "kw1/1", "Żółkiewska róży"]  # fmt: skip
    for _ in range(count):
        p = rnd.choice(items)
        words = f"{p.premises_id} {p.address} {p.payer} {p.community}".split()
        picked = []
        for _ in range(rnd.choice((1, 1, 2))):
            word = rnd.choice(words)
            start = rnd.randrange(len(word))
            picked.append(word[start : rnd.randrange(start, len(word)) + 1])
        found.append(" ".join(picked))
    return found


@pytest.mark.parametrize(
    "limits",
    [
        {},  # as served
        {"WORDS_LIMIT": 40, "MERGE_LIMIT": 1_000_000},  # many words: the lines are scanned
        {"WORDS_LIMIT": 1_000_000, "MERGE_LIMIT": 30},  # many lines to merge: scanned too
    ],
    ids=["as-served", "few-words", "few-lines"],
)
def test_premises_search_finds_what_a_scan_of_every_line_finds(monkeypatch, limits):
    for name, value in limits.items():
        monkeypatch.setattr(search, name, value)
    items = premises(2000)
    index = PremisesIndex("test", items)
    for query in queries(items, 200):
        assert index.search(query) == scanned(items, query), query
        assert index.search(query, limit=5) == scanned(items, query, limit=5), query
    assert len(index) == 2000


def test_premises_search_counts_past_the_count_limit(monkeypatch):
    monkeypatch.setattr(search, "COUNT_LIMIT", 10)
    items = premises(200)
    index = PremisesIndex("test", items)
    found = index.search("wspolnota")
    assert found.total == 11 and found.more_than_counted
    assert index.search("wspolnota") == Found(items[:11][: search.LIMIT], 11)


def test_an_empty_index_finds_nothing():
    index = PremisesIndex("empty", [])
    assert index.search("kowalski") == Found([], 0) and len(index) == 0


# -- accounts ---------------------------------------------------------------------------------
@pytest.fixture
def accounts(app):
    """An account service with accounts of every kind of field the search reads."""
    service = app.state.accounts
    rnd = random.Random(5)
    secret = hash_password("Kwiatowa-5-lokal-12")
    for n in range(1, 301):
        service.create(
            rnd.choice(["jan", "Anna", "zofia_", "ewa%", "KOWAL"]) + f".{n}",
            secret,
            [f"KW{n % 7}/{n}", f"G/{n % 11}"][: rnd.randint(0, 2)],
            email=rnd.choice([None, f"mieszkaniec{n}@Example.pl", f"x{n}@wp.pl"]),
            application_number=rnd.choice([None, f"W/{n}/2026", f"wn-{n}"]),
            must_change_password=False,
        )
    return service


ACCOUNT_QUERIES = ["jan", "JAN.1", "anna.17", "kowal.300", "zofia_", "_", "%", "ewa%.4", ".",
                   "example.pl", "EXAMPLE", "w/1", "wn-2", "kw3/", "g/1", "G/10", "@", "x1",
                   "nobody", "2026", "1"]  # fmt: skip


def test_account_search_finds_what_the_sql_finds(accounts):
    for query in ACCOUNT_QUERIES:
        for limit in (50, 3):
            found = [r.id for r in accounts.find(query, limit=limit)]
            assert found == [r.id for r in accounts._find_sql(query, limit)], (query, limit)
    twelfth = accounts.get(12)
    assert accounts.find(twelfth.login.upper())[0] == twelfth  # the exact login first
    # A text the folded copy cannot hold is asked of the database.
    for query in ("ja\x1fn", "1\x1e1"):
        assert accounts.find(query) == accounts._find_sql(query, 50) == []


def test_account_search_sees_every_change_at_once(accounts, app):
    record = accounts.find("kowal.300")[0]
    assert accounts.find("nowy-adres@") == []
    accounts.set_email(record.id, "nowy-adres@example.pl")  # this connection
    assert [r.id for r in accounts.find("nowy-adres@")] == [record.id]
    accounts.link(record.id, "NOWY/1")
    assert [r.id for r in accounts.find("nowy/1")] == [record.id]

    def elsewhere() -> None:  # another thread: another connection
        accounts.unlink(record.id, "NOWY/1")
        accounts.create("zupelnie.nowy", hash_password("Kwiatowa-5-lokal-12"), ["NOWY/2"])
        accounts.close()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert accounts.find("nowy/1") == []
    assert [r.login for r in accounts.find("nowy/2")] == ["zupelnie.nowy"]


def test_the_holders_of_many_premises_in_one_query(accounts):
    wanted = ["KW1/1", "G/1", "NIE/MA"]
    holders = accounts.holders(wanted)
    assert list(holders) == wanted
    for premises_id in wanted:
        assert holders[premises_id] == [
            Holder(r.id, r.login, r.status, r.must_change_password)
            for r in accounts.by_premises(premises_id)
        ], premises_id
    assert holders["NIE/MA"] == [] and accounts.holders([]) == {}
    assert accounts.get_many([3, 999_999, 1]) == [accounts.get(3), accounts.get(1)]
