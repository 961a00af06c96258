"""Finding accounts by a piece of their login, e-mail address, application number or a linked
premises id (the manager's search in the panel): the part of the account service
(portal.accounts.service.Accounts) that answers `Accounts.find`.

A search reads a folded copy of the searched fields, kept per thread while the database is
unchanged (the stamp the session check in portal.accounts.sessions uses too), and is held to
the plain SQL search (`_find_sql`) by tests/portal/panel/test_search.py.
"""

from __future__ import annotations

import bisect
from itertools import accumulate
from typing import TYPE_CHECKING

from ebok.database import Database
from portal.accounts.model import AccountRecord
from portal.accounts.records import RECORD_SQL, record_from_row

if TYPE_CHECKING:
    from portal.accounts.service import Accounts

# What `Accounts.find` searches: each account's login (also lowered, as LIKE and NOCASE lower
# it: ASCII only), e-mail address and application number, newest first; the premises ids.
_SEARCH_ACCOUNTS_SQL = (
    "SELECT id, lower(login), login, email, application_number FROM accounts ORDER BY id DESC"
)
_SEARCH_PREMISES_SQL = "SELECT account_id, premises_id FROM account_premises"
_FIELD_END, _LINE_END = "\x1f", "\x1e"  # never in a field that `find` searches for
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class _SearchLines:
    """The fields `Accounts.find` searches, one line per account (newest first), each field
    with ASCII letters lowered as SQL's LIKE compares them, and ended by _FIELD_END, so that
    a search text (which holds no _FIELD_END) is found within one field, as LIKE finds it."""

    def __init__(self, stamp: tuple[int, int], conn: Database) -> None:
        self.stamp = stamp
        premises: dict[int, list[str]] = {}
        for account_id, premises_id in conn.execute(_SEARCH_PREMISES_SQL):
            premises.setdefault(account_id, []).append(premises_id)
        accounts = conn.execute(_SEARCH_ACCOUNTS_SQL).fetchall()
        self.ids = [row[0] for row in accounts]
        self.logins = {row[1]: row[0] for row in accounts}
        lines = [
            _FIELD_END.join([*(v for v in row[2:] if v is not None), *premises.get(row[0], ())])
            + _FIELD_END
            for row in accounts
        ]
        self.text = _LINE_END.join(lines).translate(_ASCII_LOWER)  # keeps every length
        self.starts = list(accumulate((len(line) + 1 for line in lines), initial=0))[:-1]

    def find(self, text: str, limit: int) -> list[int]:
        """Ids of the accounts with a field containing `text`: the one whose login is `text`
        first, then newest first; at most `limit`."""
        needle = text.translate(_ASCII_LOWER)
        exact = self.logins.get(needle)
        found = [exact] if exact is not None else []
        position = self.text.find(needle)
        while position != -1 and len(found) < limit:
            line = bisect.bisect_right(self.starts, position) - 1
            if self.ids[line] != exact:
                found.append(self.ids[line])
            following = line + 1
            if following == len(self.starts):
                break
            position = self.text.find(needle, self.starts[following])
        return found[:limit]


class Search:
    """Mixed into Accounts; every method works on the service's own connection, and the folded
    copy is kept in the service's per-thread state (`Accounts.close` drops it)."""

    def find(self: Accounts, text: str, *, limit: int = 50) -> list[AccountRecord]:
        """Accounts whose login, e-mail address, application number or a linked premises id
        contains `text` (any case of ASCII letters), newest first, except that the account
        whose login is `text` comes first; with no text, the newest accounts. At most `limit`.

        As SQL's `LIKE '%text%'` would find them (`_find_sql`), but over a folded copy of those
        fields kept per thread while the database is unchanged (the stamp `session_account`
        uses): a search over 10,000 accounts takes ~0.3 ms instead of ~6 ms. Any write to the
        database (another thread's, another process's, this connection's; a sign-in or an
        audit entry too) makes the next search read the fields again: ~10-20 ms for 10,000
        accounts, once."""
        text = text.strip()
        if not text:
            rows = self.db().execute(RECORD_SQL + " ORDER BY a.id DESC LIMIT ?", (limit,))
            return [record_from_row(r) for r in rows]
        if _FIELD_END in text or _LINE_END in text or self.db().stamp() is None:
            return self._find_sql(text, limit)
        return self.get_many(self._search_lines().find(text, limit))

    def _find_sql(self: Accounts, text: str, limit: int) -> list[AccountRecord]:
        """`find` straight from the database (what the folded copy answers, by definition;
        on PostgreSQL, where no cheap stamp tells when to read the copy again, every time)."""
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.db().execute(
            RECORD_SQL + " WHERE a.login LIKE :like ESCAPE '\\' OR a.email LIKE :like ESCAPE '\\'"
            " OR a.application_number LIKE :like ESCAPE '\\'"
            " OR EXISTS (SELECT 1 FROM account_premises p WHERE p.account_id = a.id"
            "            AND p.premises_id LIKE :like ESCAPE '\\')"
            " ORDER BY a.login = :text COLLATE NOCASE DESC, a.id DESC LIMIT :limit",
            {"like": f"%{escaped}%", "text": text, "limit": limit},
        )
        return [record_from_row(r) for r in rows]

    def _search_lines(self: Accounts) -> _SearchLines:
        """This thread's folded copy of the searched fields, read again after any write."""
        conn = self.db()
        stamp = conn.stamp()
        lines: _SearchLines | None = getattr(self._local, "search_lines", None)
        if lines is None or lines.stamp != stamp:
            lines = self._local.search_lines = _SearchLines(stamp, conn)
        return lines
