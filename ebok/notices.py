"""The portal's e-mail notices (portal.notices) given to etl's imports as their after-publish
hook: etl never imports the portal, so this layer, which may import both, joins them.

`ebok sync` and `ebok import` get a `CommandNotices` (ebok.cli); `ebok serve`'s import
service gets the running portal's job (ebok.serve). The command's hook builds the portal's
side only when a publish happens, so an empty inbox does not pay for importing the portal, and
waits at the end for the queued messages to go out (or be kept in outbox/failed/).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ebok.console import note
from ebok.database import open_database
from ebok.settings import Settings

if TYPE_CHECKING:
    from etl.snapshot.store import Generation

# Seconds `ebok sync` waits at its end for queued notices (SMTP retries take up to ~5 min; a
# message still waiting then is kept in DATA/outbox/failed/ for `ebok accounts mail-retry`).
FLUSH_SECONDS = 120.0


class CommandNotices:
    """The after-publish hook of one `ebok sync` / `ebok import` run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._job: Any = None
        self._mailer: Any = None

    def __call__(self, previous: Generation | None, current: Generation) -> int:
        if self._job is None:
            if nobody_subscribed(self.settings):
                return 0
            # Deferred: only a run that publishes needs the portal's accounts and mail.
            from portal.notices.job import job_for_command

            self._job, self._mailer = job_for_command(self.settings)
        queued = self._job(previous, current)
        if queued:
            note(f"generation {current.id}: {queued} e-mail notice(s) queued")
        return queued

    def close(self) -> None:
        """Deliver what was queued; what cannot go out now is kept in outbox/failed/."""
        if self._mailer is not None:
            if not self._mailer.flush(FLUSH_SECONDS):
                self._mailer.spill()
            self._mailer.close()


def nobody_subscribed(settings: Settings) -> bool:
    """Whether no account can have notices on: then an import does not load the portal's
    accounts, mail and notices at all (0.12-0.19 s of every cron import of a manager whose
    residents never asked for them). Only a clear answer counts: no accounts database yet, or
    one that has no subscription switched on; anything else goes the whole way."""
    db = open_database(settings.accounts_database)
    if not db.exists():
        return True
    try:
        found = db.execute(
            "SELECT 1 FROM notice_subscriptions WHERE enabled = 1 LIMIT 1"
        ).fetchall()
    except Exception:  # no such table yet, a server that is down...: the job will tell
        return False
    return not found


@contextmanager
def command_notices(settings: Settings) -> Iterator[CommandNotices]:
    hook = CommandNotices(settings)
    try:
        yield hook
    finally:
        hook.close()
