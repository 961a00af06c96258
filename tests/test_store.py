from etl.store import SnapshotStore
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
