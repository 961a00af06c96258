"""/metrics (portal.web.metrics): Prometheus' text for the addresses EBOK_METRICS_ALLOW names,
404 for everyone else; requests by route template, sign-ins, generation age, failed mail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from portal.app import create_app
from tests.builders import make_document, publish_documents
from tests.cli import sign_in

OVERVIEW = "/premises/{premises_id:premises_id}"


def metric(text: str, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def samples(text: str) -> dict[str, float]:
    """Every sample as `name{labels}` -> value."""
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(app, address: str = "127.0.0.1"):
    with TestClient(app, client=(address, 40000)) as client:
        return client.get("/metrics")


@pytest.fixture
def published(store):
    publish_documents(store, [make_document("KW5/12")])


def test_an_allowed_address_sees_the_counters_move(app, published, signed_in, settings):
    before = scrape(app)
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain; version=")

    resident = signed_in("KW5/12", login="jan")
    for _ in range(3):
        assert resident.get("/premises/KW5%2F12").status_code == 200
    failed, answer = sign_in(app, "jan", "zle-haslo-123")
    failed.close()
    assert answer.status_code == 400
    (settings.outbox_dir / "failed").mkdir(parents=True)
    (settings.outbox_dir / "failed" / "1.eml").write_text("x")

    after = scrape(app).text
    route = {"route": OVERVIEW, "method": "GET", "status": "200"}
    assert metric(after, "ebok_http_requests_total", **route) - metric(
        before.text, "ebok_http_requests_total", **route
    ) == 3
    overview = {"route": OVERVIEW}
    assert metric(after, "ebok_http_request_duration_seconds_count", **overview) - metric(
        before.text, "ebok_http_request_duration_seconds_count", **overview
    ) == 3
    for result in ("success", "failure"):
        labels = {"who": "resident", "result": result}
        moved = metric(after, "ebok_sign_ins_total", **labels) - metric(
            before.text, "ebok_sign_ins_total", **labels
        )
        assert moved == 1, result
    imported = datetime.fromisoformat(app.state.store.current().manifest["imported_at"])
    age = (datetime.now(UTC) - imported).total_seconds()
    assert abs(metric(after, "ebok_generation_age_seconds") - age) < 60
    assert metric(after, "ebok_mail_failed") == 1
    # Route templates only: no premises id, login or path a visitor made up. (The counts are
    # the process's: only the labels this test's requests moved are its own.)
    moved = samples(after).items() - samples(before.text).items()
    assert moved and not [labels for labels, _ in moved if "KW5" in labels or "jan" in labels]


def test_a_path_no_route_knows_is_counted_without_its_path(app, published):
    with TestClient(app) as client:
        client.get("/wp-login.php?token=secret123", follow_redirects=False)
    text = scrape(app).text
    assert "wp-login" not in text and "secret123" not in text
    assert 'route="unmatched"' in text


@pytest.mark.parametrize("address", ["testclient", "192.0.2.7", "10.1.2.3", "::ffff:192.0.2.7"])
def test_other_addresses_get_404(app, address):
    answer = scrape(app, address)
    assert answer.status_code == 404
    assert "ebok_" not in answer.text


def test_the_operator_names_the_addresses(settings):
    app = create_app(settings.with_overrides(metrics_allow=("192.0.2.0/24", "2001:db8::1")))
    assert scrape(app, "192.0.2.7").status_code == 200
    assert scrape(app, "2001:db8::1").status_code == 200
    assert scrape(app, "127.0.0.1").status_code == 404
    assert scrape(app, "198.51.100.1").status_code == 404


def test_imports_are_counted_by_result_from_the_history(settings):
    from ebok.serve import create_app as create_served
    from etl.import_history import ImportHistory, ImportRecord

    history = ImportHistory(settings.imports_database)
    for number, status in enumerate(["published", "published", "rejected", "running"]):
        history.save(ImportRecord(f"id{number}", "sync", "sync", "x.zip", "2026-11-30", status))
    text = scrape(create_served(settings)).text
    assert metric(text, "ebok_imports_total", result="published") == 2
    assert metric(text, "ebok_imports_total", result="rejected") == 1
    assert 'result="running"' not in text
