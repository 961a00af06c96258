"""Loading a resident's premises document, with the access check in the same step so that no
view can forget it.

Parsed documents are kept in a small LRU keyed by (generation path, premises id): a published
generation is immutable, so an entry can never go stale, and a new import simply brings new
keys while the old ones age out. This is the hot path of every premises page. The cache belongs
to the app (`app.state.documents`, made by `create_app`), so two apps in one process never see
each other's documents.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from cachetools import LRUCache
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Scope

from etl.snapshot.store import Generation, SnapshotStore
from portal.i18n import N_

T = TypeVar("T")
CACHE_SIZE = 512
UNPUBLISHED = N_("Dane nie zostały jeszcze opublikowane.")  # the error page translates it


class _Loaded:
    """A parsed document and the values views derive from it (ledger rows, chart), computed
    once per generation."""

    __slots__ = ("document", "derived")

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.derived: dict[str, Any] = {}

    def memo(self, name: str, compute: Callable[[dict], T]) -> T:
        """`compute(document)`, once. The document is shared between requests: `compute`
        must not modify it."""
        try:
            return self.derived[name]
        except KeyError:
            value = self.derived[name] = compute(self.document)
            return value


Loaded = _Loaded  # the name other modules use in annotations


class DocumentCache:
    """Parsed documents by (generation path, premises id), least recently used out first."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: LRUCache[tuple[str, str], _Loaded] = LRUCache(maxsize=size)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def load(self, generation: Generation, premises_id: str) -> _Loaded | None:
        # The generation's path rather than its bare id: ids are unique within one data dir,
        # and the path says which data dir too.
        key = (str(generation.path), premises_id)
        with self._lock:
            hit = self._items.get(key)
        if hit is not None:
            return hit
        # Read and parsed outside the lock: two requests may both parse a new document, and
        # the second simply replaces the first with an equal one.
        document = generation.document(premises_id)
        if document is None:
            return None
        loaded = _Loaded(document)
        with self._lock:
            self._items[key] = loaded
        return loaded

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _cache(request: Request) -> DocumentCache:
    return request.app.state.documents


def current_generation(request: Request) -> Generation:
    """The published generation, or 503: before the first import there is nothing to show."""
    store: SnapshotStore = request.app.state.store
    generation = store.current()
    if generation is None:
        raise HTTPException(503, UNPUBLISHED)
    return generation


def _account_ids(request: Request) -> tuple[str, ...]:
    account = request.scope.get("state", {}).get("account")
    return tuple(account.premises_ids) if account is not None else ()


def get_premises(request: Request, premises_id: str) -> tuple[Generation, dict[str, Any]]:
    """The document of `premises_id` if the signed-in account holds it and the current
    generation has it; otherwise 404 — the same answer for "not yours" and "no such premises",
    so ids of other residents cannot be probed."""
    generation, loaded = load_in_scope(request.scope, premises_id)
    return generation, loaded.document


def load_in_scope(scope: Scope, premises_id: str) -> tuple[Generation, _Loaded]:
    """`get_premises` on the ASGI scope itself (the overview is a plain ASGI endpoint): the
    access check, then the cached document. Reads what a Request would read, without making
    one: the account AuthMiddleware put in `scope["state"]`, the app's state."""
    # One lookup per request, however many helpers ask (the generation pointer is stat()ed
    # once, so a page never mixes two generations either).
    state = scope.setdefault("state", {})
    memo = state.get("_ebok_premises")
    if memo is None:
        memo = state["_ebok_premises"] = {}
    hit = memo.get(premises_id)
    if hit is not None:
        return hit
    generation, loaded = load_for(scope["app"].state, state.get("account"), premises_id)
    memo[premises_id] = (generation, loaded)
    return generation, loaded


def load_for(app_state: Any, account: Any, premises_id: str) -> tuple[Generation, _Loaded]:
    """The access check and the cached document, from the app's state and the signed-in
    `account` (an `Account` or None): 404 unless the account holds `premises_id` and the
    current generation has it, 503 before the first import."""
    if account is None or premises_id not in account.premises_ids:
        raise HTTPException(404)
    generation = app_state.store.current()
    if generation is None:
        raise HTTPException(503, UNPUBLISHED)
    loaded = app_state.documents.load(generation, premises_id)
    if loaded is None:
        raise HTTPException(404)
    return generation, loaded


def derived(request: Request, premises_id: str, name: str, compute: Callable[[dict], T]) -> T:
    """`compute(document)`, memoised with the cached document (after the same access check).
    The document is shared between requests: `compute` must not modify it."""
    return load_in_scope(request.scope, premises_id)[1].memo(name, compute)


def account_premises(request: Request) -> tuple[Generation, list[dict[str, Any]]]:
    """Documents of all the account's premises present in the current generation, in the
    account's order (a premises missing from the import is simply not listed)."""
    generation = current_generation(request)
    cache = _cache(request)
    docs = []
    for pid in _account_ids(request):
        loaded = cache.load(generation, pid)
        if loaded is not None:
            docs.append(loaded.document)
    return generation, docs
