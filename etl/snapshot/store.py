"""Published snapshot generations: written once, never modified, switched by an atomic pointer.

Layout under DATA/snapshots/:
    CURRENT                 the current generation id (replaced by write, fsync, rename)
    <generation id>/        one immutable generation
        manifest.json       sources with SHA-256, as-of dates, counts, import time
        premises.sqlite3    one JSON document per premises (see docs/snapshots.md), and per
                            community its announcements and the index of its documents
        files/<sha256>.pdf  the communities' documents, one file per content (optional)
    .tmp-<id>/              a generation being written; never read, removed on the next publish

The store of generations: which one is current (the pointer), which are published, pruning
them. One generation, read, is `etl.snapshot.generation.Generation` (importable from here: the
store hands them out); the next one is built by `etl.snapshot.writer.GenerationWriter`, which
`SnapshotStore.start` returns.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from etl.snapshot.generation import DOCUMENTS_FILE, MANIFEST_FILE, Generation
from etl.snapshot.writer import GenerationWriter, atomic_write_text

POINTER_FILE = "CURRENT"
# How often `SnapshotStore.current()` looks at the pointer again: an import published by another
# process is served at most this many seconds later.
RECHECK_SECONDS = 0.5


def _complete(path: Path) -> Generation | None:
    """The generation at `path` if all of it is there: its manifest (which names it), and its
    documents file, of the size the manifest says (manifests from before that have no size)."""
    try:
        generation = Generation(path)
        documents = (path / DOCUMENTS_FILE).stat().st_size
    except (OSError, ValueError):
        return None
    manifest = generation.manifest
    if not isinstance(manifest, dict) or manifest.get("generation", path.name) != path.name:
        return None
    if manifest.get("documents_bytes", documents) != documents:
        return None
    return generation


class SnapshotStore:
    """The generations under DATA/snapshots. `current()` is cheap enough to call per request:
    it looks at the pointer's mtime at most every `recheck` seconds (by `clock`, monotonic) and
    re-reads the pointer only when that changed, so a new import shows up without a restart,
    at most `recheck` seconds after it was published by another process and at once when it
    was published through this store."""

    def __init__(
        self,
        root: Path,
        *,
        recheck: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.recheck = recheck
        self.clock = clock
        self._lock = threading.Lock()
        self._generations: dict[str, Generation] = {}
        self._cached: tuple[tuple[int, int], Generation] | None = None
        self._checked_at: float | None = None  # clock() when `_cached` was last confirmed

    @property
    def pointer(self) -> Path:
        return self.root / POINTER_FILE

    def current(self) -> Generation | None:
        cached = self._cached
        checked_at = self._checked_at
        now = self.clock()
        if cached and checked_at is not None and 0 <= now - checked_at < self.recheck:
            return cached[1]
        try:
            st = self.pointer.stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_ino)
        if cached and cached[0] == key:
            self._checked_at = now
            return cached[1]
        with self._lock:
            gen_id = self.pointer.read_text("utf-8").strip()
            generation = _complete(self.root / gen_id) if gen_id else None
            if generation is None:
                # The pointer names a generation that is not (all) here: another host's copy
                # that brought the pointer first, or is still copying. The one served so far
                # stays, whole, and the pointer is looked at again after `recheck`.
                self._checked_at = now
                return cached[1] if cached else None
            self._cached = (key, generation)
            self._checked_at = now
            return generation

    def generation_ids(self) -> list[str]:
        """Published generations, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_FILE).exists()
        )

    def generation(self, generation_id: str) -> Generation:
        """A published generation by id. Generations never change, so each is read (its
        manifest parsed) once per store; those pruned since are forgotten."""
        ids = self.generation_ids()
        if generation_id not in ids:
            raise KeyError(generation_id)
        with self._lock:
            for gone in set(self._generations) - set(ids):
                del self._generations[gone]
            found = self._generations.get(generation_id)
            if found is None:
                found = self._generations[generation_id] = Generation(self.root / generation_id)
            return found

    def set_current(self, generation_id: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.pointer, generation_id + "\n")
        self._checked_at = None  # this store's next current() reads the new pointer

    def start(self, base: Generation | None = None) -> GenerationWriter:
        """A writer of the next generation; with `base`, starting from a copy of that
        generation's documents file (a re-import that keeps most documents deletes the others
        instead of copying the kept ones a row at a time: GenerationWriter.leave_out)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_abandoned()
        return GenerationWriter(self, base=base)

    def remove_abandoned(self) -> None:
        """Drop half-written generations left by a killed import."""
        for p in self.root.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest `keep` generations, never the current one."""
        current = self.current()
        ids = self.generation_ids()
        doomed = [g for g in ids[: max(0, len(ids) - keep)] if not current or g != current.id]
        for g in doomed:
            shutil.rmtree(self.root / g, ignore_errors=True)
        return doomed
