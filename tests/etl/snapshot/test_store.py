import shutil

import pytest

from etl.snapshot.generation import DOCUMENTS_FILE, MANIFEST_FILE
from etl.snapshot.store import RECHECK_SECONDS, SnapshotStore
from tests.builders import make_document, publish_documents


def test_published_document_is_current_and_readable_by_id(store: SnapshotStore) -> None:
    assert store.current() is None
    gen = publish_documents(store, [make_document("KW5/12"), make_document("../../x")])
    current = store.current()
    assert current is not None and current.id == gen.id
    assert current.document("KW5/12")["premises"]["payer_name"] == "Jan Kowalski"
    assert current.document("../../x")["premises_id"] == "../../x"
    assert current.document("nope") is None
    assert sorted(p.name for p in store.root.iterdir()) == sorted(["CURRENT", gen.id])


def test_new_generation_is_picked_up_and_prune_keeps_current(store: SnapshotStore) -> None:
    first = publish_documents(store, [make_document(payer_name="Anna Nowak")])
    assert store.current().id == first.id
    second = publish_documents(store, [make_document(payer_name="Zofia Żak")])
    assert store.current().document("KW5/12")["premises"]["payer_name"] == "Zofia Żak"
    assert store.prune(keep=1) == [first.id]
    assert store.generation_ids() == [second.id]


def test_generation_published_by_another_process_is_seen_within_the_recheck_delay(store) -> None:
    """The portal's store looks at the pointer at most every RECHECK_SECONDS (its own clock);
    `ebok import` publishes through a store of its own, as another process would."""
    clock = [1000.0]
    portal_store = SnapshotStore(store.root, clock=lambda: clock[0])
    first = publish_documents(store, [make_document(payer_name="Anna Nowak")])
    assert portal_store.current().id == first.id
    second = publish_documents(store, [make_document(payer_name="Zofia Żak")])
    clock[0] += RECHECK_SECONDS / 2
    assert portal_store.current().id == first.id  # not looked at again yet
    clock[0] += RECHECK_SECONDS / 2
    assert portal_store.current().id == second.id
    assert portal_store.current().document("KW5/12")["premises"]["payer_name"] == "Zofia Żak"


def test_a_generation_is_read_once_and_forgotten_when_pruned(store: SnapshotStore) -> None:
    first = publish_documents(store, [make_document("KW5/12")])
    again = store.generation(first.id)
    assert store.generation(first.id) is again  # its manifest is not parsed on every call
    publish_documents(store, [make_document("KW5/14")])
    store.prune(keep=1)
    with pytest.raises(KeyError):  # a pruned generation is not handed out
        store.generation(first.id)


def test_a_host_that_sees_a_new_generation_late_serves_the_older_one_whole(store, tmp_path):
    """Hosts that get generations by copy (docs/deployment.md, "Two hosts") may see the pointer
    before the generation, or the generation half-copied: they serve the previous one, and the
    new one only once all of it is there."""
    clock = [1000.0]
    portal = SnapshotStore(store.root, clock=lambda: clock[0])
    first = publish_documents(store, [make_document(payer_name="Anna Nowak")])
    assert portal.current().id == first.id
    source = SnapshotStore(tmp_path / "source-host")  # where the import ran
    second = publish_documents(source, [make_document(payer_name="Zofia Żak")])
    copy = store.root / second.id

    def looked_again():
        clock[0] += RECHECK_SECONDS
        return portal.current()

    store.set_current(second.id)  # the pointer first: its generation is not here yet
    assert looked_again().id == first.id
    copy.mkdir()
    assert looked_again().id == first.id
    shutil.copy(second.path / MANIFEST_FILE, copy / MANIFEST_FILE)
    assert looked_again().id == first.id
    body = (second.path / DOCUMENTS_FILE).read_bytes()
    (copy / DOCUMENTS_FILE).write_bytes(body[: len(body) // 2])  # still being copied
    assert looked_again().id == first.id
    assert looked_again().document("KW5/12")["premises"]["payer_name"] == "Anna Nowak"
    (copy / DOCUMENTS_FILE).write_bytes(body)
    assert looked_again().id == second.id
    assert portal.current().document("KW5/12")["premises"]["payer_name"] == "Zofia Żak"


def test_a_fresh_host_with_a_pointer_ahead_of_its_generations_serves_nothing_yet(store):
    store.set_current("20990101T000000000000Z")
    assert SnapshotStore(store.root).current() is None


def test_a_copy_of_a_generation_abandoned_at_once_leaves_nothing_behind(
    store: SnapshotStore,
) -> None:
    """An import that started the next generation as a copy of the current one and then did
    not want it (etl.sync) drops the copy, without putting it on disk first."""
    publish_documents(store, [make_document("P1"), make_document("P2")])
    current = store.current()
    assert current is not None
    writer = store.start(base=current)
    writer.abort()
    assert not writer.tmp.exists() and not list(store.root.glob(".tmp-*"))
    assert store.current() is not None and store.current().id == current.id
    assert store.current().document("P1") is not None
