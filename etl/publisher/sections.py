"""The community and premises sections of the documents, from the bundle's small tables.

A premises section is a dict of a dozen fields; made for all premises at once, 200,000 of them
held 280 MB while the documents were built. `PremisesSections` knows every premises' community
(what the plan needs) and makes the sections of one part of the premises at a time (`load`),
as the documents of that part are built.
"""

from __future__ import annotations

from typing import Any

from etl.model import Bundle
from etl.publisher.grouping import values_of
from etl.snapshot.document import COMMUNITY_FIELDS, PREMISES_FIELDS

Section = tuple[str, dict[str, Any]]  # (community id, the premises' section)


def community_sections(bundle: Bundle) -> dict[str, dict[str, Any]]:
    frame = bundle.tables.get("communities")
    if frame is None or len(frame) == 0:
        return {}
    cols = [values_of(frame, f, None if f == "fee_notes" else "") for f in COMMUNITY_FIELDS]
    return {
        vals[0]: dict(zip(COMMUNITY_FIELDS, vals, strict=True)) for vals in zip(*cols, strict=True)
    }


class PremisesSections:
    """The bundle's premises rows: each one's community at once, sections part by part."""

    def __init__(self, bundle: Bundle) -> None:
        frame = bundle.tables.get("premises")
        self.frame = frame if frame is not None and len(frame) else None
        ids = self.frame["premises_id"].tolist() if self.frame is not None else []
        cids = self.frame["community_id"].tolist() if self.frame is not None else []
        self.owner: dict[str, str] = dict(zip(ids, cids, strict=True))  # premises -> community
        self._position = {pid: i for i, pid in enumerate(ids)}  # a repeated id: its last row
        self.loaded: dict[str, Section] = {}

    def __contains__(self, premises_id: object) -> bool:
        return premises_id in self.owner

    def load(self, premises_ids: list[str]) -> dict[str, Section]:
        """The sections of these premises (those the bundle lists), which `loaded` then
        holds instead of the previous part's."""
        self.loaded = {}
        rows = [self._position[p] for p in premises_ids if p in self._position]
        if self.frame is None or not rows:
            return self.loaded
        part = self.frame.iloc[rows]
        cols = [values_of(part, f, None if f == "occupants" else "") for f in PREMISES_FIELDS]
        self.loaded = {
            pid: (cid, dict(zip(PREMISES_FIELDS, vals, strict=True)))
            for pid, cid, *vals in zip(
                part["premises_id"].tolist(), part["community_id"].tolist(), *cols, strict=True
            )
        }
        return self.loaded
