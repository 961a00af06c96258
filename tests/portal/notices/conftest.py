"""Fixtures of the notices tests: published generations with announcements and documents,
accounts, the job with the real mail queue writing to DATA/outbox, and reading what it wrote."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from ebok.settings import Settings
from etl.demo.pdf import document_pdf
from etl.snapshot.generation import Generation
from etl.snapshot.store import SnapshotStore
from etl.snapshot.writer import body_digest
from portal.accounts.mail import Mailer
from portal.accounts.service import Accounts
from portal.notices.job import NoticeJob
from portal.notices.store import NoticesStore
from portal.notices.tokens import UnsubscribeTokens

SECRET = "test-secret-key-0123456789abcdef"  # the `settings` fixture's


def announcement(cid: str, title: str, start: str = "2026-11-01", end: str = "") -> dict:
    return {
        "community_id": cid, "valid_from": start, "valid_to": end, "title": title,
        "text": "Treść.", "file": "ogloszenia.csv", "row": 2,
    }  # fmt: skip


def community_document(cid: str, title: str, day: str = "2026-11-28") -> tuple[dict, bytes]:
    data = document_pdf(title, ["Treść."])
    return {
        "community_id": cid, "document_id": hashlib.sha256(data).hexdigest(), "date": day,
        "title": title, "kind": "resolution", "name": f"{title}.pdf", "size": len(data),
        "file": "dokumenty.csv", "row": 2,
    }, data  # fmt: skip


def publish(
    store: SnapshotStore,
    docs: list[dict[str, Any]],
    announcements: list[dict] = (),  # type: ignore[assignment]
    documents: list[tuple[dict, bytes]] = (),  # type: ignore[assignment]
) -> Generation:
    """A new current generation with these premises documents and community items."""
    writer = store.start()
    bodies = [(d, json.dumps(d, ensure_ascii=False)) for d in docs]
    writer.add_digested(
        [
            (d["premises_id"], d["community"]["community_id"], body_digest(body), body)
            for d, body in bodies
        ]
    )
    writer.add_announcements(announcements)
    writer.add_community_documents(
        [d for d, _ in documents], {d["document_id"]: b for d, b in documents}
    )
    communities = {d["community"]["community_id"]: {"as_of": "2026-11-20"} for d in docs}
    return writer.commit(
        {"imported_at": "2026-11-25T02:00:00+00:00", "sources": [], "communities": communities,
         "counts": {"premises": len(docs)}, "content_digest": writer.content_digest()}
    )  # fmt: skip


@pytest.fixture
def accounts(settings: Settings) -> Iterator[Accounts]:
    service = Accounts(settings.accounts_database)
    yield service
    service.close()


@pytest.fixture
def notices_store(accounts: Accounts) -> NoticesStore:
    return NoticesStore(accounts.db)


@pytest.fixture
def mailer(settings: Settings) -> Iterator[Mailer]:
    m = Mailer(settings, retry_delays=())
    yield m
    m.close()


@pytest.fixture
def job(settings: Settings, notices_store: NoticesStore, mailer: Mailer) -> NoticeJob:
    return NoticeJob(
        settings,
        notices_store,
        mailer,
        UnsubscribeTokens(SECRET),
        clock=lambda: date(2026, 11, 29),
    )


@pytest.fixture
def sent(settings: Settings, mailer: Mailer):
    """`sent()` -> the messages delivered so far (flushing the queue first), oldest first."""

    def read() -> list[EmailMessage]:
        assert mailer.flush()
        outbox = settings.outbox_dir
        if not outbox.is_dir():
            return []
        found = []
        for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            with path.open("rb") as fh:
                found.append(BytesParser(policy=policy.default).parse(fh))
        return found

    return read


def text_of(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def html_of(msg: EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
