"""The sign-in history (Accounts, from portal.accounts.sign_ins): recorded, shown, pruned."""

from __future__ import annotations

import portal.accounts.service
from portal.accounts.passwords import hash_password
from portal.accounts.service import Accounts


def new(accounts: Accounts, login: str = "jan", premises=("KW5/12",), **kw):
    return accounts.create(login, hash_password("Zielony-kot-na-dachu"), premises, **kw)


def test_old_sign_in_attempts_are_forgotten_but_the_last_sign_in_is_kept(accounts):
    from datetime import timedelta

    jan, anna = new(accounts, "jan"), new(accounts, "anna")
    old = portal.accounts.service.utc_now() - timedelta(days=400)
    for days in (0, 1, 2):
        accounts.record_sign_in("jan", jan.id, success=True, at=old + timedelta(days=days))
    accounts.record_sign_in("jan", jan.id, success=False, client="203.0.113.7", at=old)
    accounts.record_sign_in("nobody", None, success=False, client="203.0.113.7", at=old)
    accounts.record_sign_in("anna", anna.id, success=True, at=old)
    recent = accounts.record_sign_in("anna", anna.id, success=True)

    assert accounts.prune_sign_ins(keep_days=365) == 5
    assert [h["at"] for h in accounts.sign_in_history(jan.id)] == [old + timedelta(days=2)]
    anna_history = accounts.sign_in_history(anna.id)
    assert [portal.accounts.service.iso(h["at"]) for h in anna_history] == [recent]
    assert accounts.get(jan.id).last_login_at == old + timedelta(days=2)
