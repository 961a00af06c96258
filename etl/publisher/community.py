"""A bundle's announcements and community documents into the next generation.

They belong to a community, not to a premises, so they are written once per community beside
the premises documents (etl.snapshot.writer), never into each premises' document.

Merge rules (docs/import-format.md), per table:
- a bundle with the table replaces it for every community the bundle speaks for
  (`Bundle.communities()`) and every community the table names: an announcements file alone
  refreshes the announcements of the communities it lists, and a community whose full export
  has an announcements table without rows for it has none afterwards;
- a bundle without the table keeps what was published, for every community (so does the legacy
  export, which has neither table);
- documents kept from the previous generation keep its files (hard links, see the store).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from etl.model import Bundle
from etl.publisher.grouping import values_of
from etl.snapshot.document import (
    ANNOUNCEMENT_FIELDS,
    COMMUNITY_DOCUMENT_FIELDS,
    Announcement,
    CommunityDocument,
)
from etl.snapshot.generation import Generation
from etl.snapshot.writer import GenerationWriter

TABLES = {"announcements": "announcements", "documents": "community_documents"}


def replaced(bundle: Bundle, table: str) -> set[str]:
    """The communities whose `table` this bundle replaces (none when it lacks the table)."""
    frame = bundle.tables.get(table)
    if frame is None:
        return set()
    return bundle.communities() | set(frame["community_id"].tolist())


def _entries(frame: pd.DataFrame, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The frame's rows as contract entries, in source order (`file`, `row` from the source
    columns)."""
    if len(frame) == 0:
        return []
    frame = frame.sort_values(["_file", "_row"], kind="stable")
    sources = {"file": "_file", "row": "_row"}
    columns = [values_of(frame, sources.get(f, f), None if f == "row" else "") for f in fields]
    return [dict(zip(fields, values, strict=True)) for values in zip(*columns, strict=True)]


def announcements(bundle: Bundle) -> list[Announcement]:
    return _entries(bundle.tables["announcements"], ANNOUNCEMENT_FIELDS)  # type: ignore[return-value]


def documents(bundle: Bundle) -> list[CommunityDocument]:
    return _entries(bundle.tables["documents"], COMMUNITY_DOCUMENT_FIELDS)  # type: ignore[return-value]


def write(bundle: Bundle, previous: Generation | None, writer: GenerationWriter) -> None:
    """Carry over what the bundle keeps, then add what it brings."""
    new_announcements = replaced(bundle, "announcements")
    new_documents = replaced(bundle, "documents")
    if previous is not None:
        writer.copy_community_content(
            previous,
            replaced_announcements=new_announcements,
            replaced_documents=new_documents,
        )
    if "announcements" in bundle.tables:
        writer.add_announcements(announcements(bundle))
    if "documents" in bundle.tables:
        writer.add_community_documents(documents(bundle), bundle.files)
