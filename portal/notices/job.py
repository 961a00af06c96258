"""The notices job: after a generation is published, one message to each opted-in account
whose premises or communities have news in it.

It is the after-publish hook of etl's imports (`ebok sync`, `ebok import`, the panel's
uploads), given to them by the ebok layer (ebok.notices, ebok.serve): etl never imports the
portal. It runs under the import lock, right after the publish, so both generations are still
kept.

At most one message per account and generation: the notice is recorded (portal.notices.store)
before it is queued, and an account already notified about this generation, or about another
one with the same content (rolled back, then the same data published again), gets nothing.
A failure for one account is logged and the others still get theirs; nothing here can undo or
fail the import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime

from ebok.settings import Settings
from etl.snapshot.store import Generation
from portal.accounts.mail import Mailer
from portal.notices.compose import notice_message
from portal.notices.diff import GenerationDiff
from portal.notices.store import NoticesStore, Subscriber
from portal.notices.tokens import UnsubscribeTokens
from portal.web.format import LOCAL_ZONE

log = logging.getLogger("ebok.notices")


def today() -> date:
    """The portal's local date, for announcements still valid (tests replace it)."""
    return datetime.now(LOCAL_ZONE).date()


class NoticeJob:
    """Callable as `job(previous, current)`; returns how many messages it queued."""

    def __init__(
        self,
        settings: Settings,
        store: NoticesStore,
        mailer: Mailer,
        tokens: UnsubscribeTokens,
        clock: Callable[[], date] = today,
    ) -> None:
        self.settings = settings
        self.store = store
        self.mailer = mailer
        self.tokens = tokens
        self.clock = clock

    def __call__(self, previous: Generation | None, current: Generation) -> int:
        subscribers = self.store.subscribers()
        if not subscribers:
            return 0
        if previous is not None and not previous.path.is_dir():
            # Pruned by this very publish (EBOK_KEEP_GENERATIONS=1): nothing to compare with,
            # and comparing with nothing would call everything new.
            log.warning("generation %s: the previous one is gone, no notices", current.id)
            return 0
        digest = str(current.manifest.get("content_digest") or current.id)
        diff = GenerationDiff(previous, current, self.clock())
        queued = 0
        for subscriber in subscribers:
            try:
                queued += self._notify(subscriber, diff, current.id, digest)
            except Exception:  # one account's trouble must not cost the others their notice
                log.exception("notice for account %s failed", subscriber.login)
        log.info("generation %s: %d notice(s) queued", current.id, queued)
        return queued

    def _notify(self, who: Subscriber, diff: GenerationDiff, generation: str, digest: str) -> int:
        if self.store.already_notified(who.account_id, generation, digest):
            return 0
        changes = diff.account(who.premises_ids)
        if not changes:
            return 0
        token = self.tokens.issue(who.account_id, who.version)
        msg = notice_message(self.settings, who.email, who.login, changes, token, who.language)
        if not self.store.record_sent(who.account_id, generation, digest):
            return 0
        self.mailer.send(msg)
        return 1


def job_for_app(state: object) -> NoticeJob:
    """The job of a running portal (the panel's uploads): its accounts, mailer and key."""
    return NoticeJob(
        state.settings,  # type: ignore[attr-defined]
        NoticesStore(state.accounts.db),  # type: ignore[attr-defined]
        state.mailer,  # type: ignore[attr-defined]
        state.unsubscribe_tokens,  # type: ignore[attr-defined]
    )


def job_for_command(settings: Settings) -> tuple[NoticeJob, Mailer]:
    """The job of `ebok sync` / `ebok import`, and its mailer (flush it before exiting)."""
    from portal.accounts.service import Accounts
    from portal.secret_key import load_secret_key

    accounts = Accounts(settings.accounts_database)
    mailer = Mailer(settings)
    tokens = UnsubscribeTokens(load_secret_key(settings))
    return NoticeJob(settings, NoticesStore(accounts.db), mailer, tokens), mailer
