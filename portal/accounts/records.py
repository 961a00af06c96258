"""Reading an account record: the one SELECT every `AccountRecord` comes from (with the account's
premises and its last successful sign-in) and the step from its row to the record.

The account service's lookups (portal.accounts.service) and its search (portal.accounts.search)
both return records read this way, so the query lives here, beside neither of them.
"""

from __future__ import annotations

import json

from portal.accounts.model import AccountRecord, parse_iso

RECORD_SQL = """
    SELECT a.id, a.login, a.password_hash, a.email, a.status, a.must_change_password,
           a.auth_version, a.created_at,
           (SELECT json_group_array(premises_id) FROM account_premises p
             WHERE p.account_id = a.id),
           (SELECT max(at) FROM sign_ins s WHERE s.account_id = a.id AND s.success = 1)
      FROM accounts a
"""


def record_from_row(row: tuple) -> AccountRecord:
    return AccountRecord(
        id=row[0],
        login=row[1],
        password_hash=row[2],
        email=row[3],
        status=row[4],
        must_change_password=bool(row[5]),
        auth_version=row[6],
        created_at=parse_iso(row[7]),  # type: ignore[arg-type]
        premises_ids=tuple(sorted(json.loads(row[8]))),
        last_login_at=parse_iso(row[9]),
    )
