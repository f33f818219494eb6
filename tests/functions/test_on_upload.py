"""The real on_upload entry point, driven by functions-framework's test client with real CloudEvents.

The pipeline's own push subscription is paused while these tests deliver events themselves, and
resumed afterwards, so its late delivery becomes one more duplicate the handler must absorb.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from fashiontag import config, contract, products, topology
from fashiontag.contract import OBJECT_FINALIZED
from fashiontag.local import stack as local_stack
from fashiontag.local.stack import StackConfig
from tests import corpus, events
from tests.helpers import EventTap, product_count, upload, wait_finished

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "on_upload" / "main.py"
BRIDGE_SUB = topology.LOCAL_SUBSCRIPTIONS[0]


@pytest.fixture
def paused_pipeline(stack: StackConfig) -> Iterator[None]:
    with local_stack.paused(stack, BRIDGE_SUB.name):
        yield


@pytest.fixture
def product_events(stack) -> Iterator[EventTap]:
    tap = EventTap(stack.url("pubsub"), stack.project, contract.TOPIC_PRODUCT_EVENTS)
    yield tap
    tap.close()


@pytest.fixture
def app(stack):
    return create_app("on_upload", str(SOURCE), "cloudevent")


def _event(name: str, generation: str, event_type: str = OBJECT_FINALIZED) -> dict[str, Any]:
    return events.request(events.storage_finalized(name, generation, event_type))


def _jpeg(seed: int) -> bytes:
    return corpus.jpeg(corpus.garment_photo(seed))


def test_one_delivery_classifies(app, seller, paused_pipeline) -> None:
    name = f"uploads/{seller}/a.jpg"
    generation, product_id = upload(name, _jpeg(10))
    response = app.test_client().post("/", **_event(name, generation))
    assert response.status_code == 200
    doc = products.get(product_id)
    assert doc and products.is_finished(doc)
    assert doc["status"] in (contract.AUTO_ACCEPTED, contract.NEEDS_REVIEW)


def test_ten_concurrent_deliveries_make_one_product_and_one_event(app, seller, product_events, paused_pipeline) -> None:
    name = f"uploads/{seller}/dup.jpg"
    generation, product_id = upload(name, _jpeg(11))
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/", **_event(name, generation)).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert statuses == [200] * 10
    assert product_count() == 1
    events = [e for e in product_events.drain() if e["data"]["product_id"] == product_id]
    assert len(events) == 1


def test_redelivery_after_completion_changes_nothing(app, seller, product_events, stack) -> None:
    name = f"uploads/{seller}/late.jpg"
    generation, product_id = upload(name, _jpeg(12))
    before = wait_finished(product_id)  # delivered by the running pipeline
    for _ in range(3):
        assert app.test_client().post("/", **_event(name, generation)).status_code == 200
    after = products.get(product_id)
    assert after == before
    assert len([e for e in product_events.drain() if e["data"]["product_id"] == product_id]) == 1


def test_abandoned_processing_is_taken_over(app, seller, paused_pipeline) -> None:
    name = f"uploads/{seller}/crashed.jpg"
    generation, product_id = upload(name, _jpeg(13))
    # A delivery that claimed the product and then died: its lease has run out.
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    products.product_ref(product_id).set(
        {
            "seller_id": seller,
            "status": contract.RECEIVED,
            "lease": {"owner": "dead", "until": expired},
            "attempts": 1,
        }
    )
    assert app.test_client().post("/", **_event(name, generation)).status_code == 200
    doc = products.get(product_id)
    assert doc and products.is_finished(doc) and doc["attempts"] == 2


def test_a_live_lease_makes_a_duplicate_ask_for_a_retry(app, seller, paused_pipeline, monkeypatch) -> None:
    monkeypatch.setattr("fashiontag.ingest._WAIT_FOR_OWNER_S", 0.5)
    name = f"uploads/{seller}/busy.jpg"
    generation, product_id = upload(name, _jpeg(14))
    held = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    products.product_ref(product_id).set(
        {
            "seller_id": seller,
            "status": contract.RECEIVED,
            "lease": {"owner": "other", "until": held},
            "attempts": 1,
        }
    )
    response = app.test_client().post("/", **_event(name, generation))
    assert response.status_code == 500  # not acknowledged: Pub/Sub/Eventarc will deliver it again
    doc = products.get(product_id)
    assert doc is not None and doc["status"] == contract.RECEIVED


def test_deleted_object_is_rejected_not_retried(app, seller, paused_pipeline) -> None:
    name = f"uploads/{seller}/gone.jpg"
    kept, _ = upload(name, _jpeg(15))
    # The bucket keeps deleted versions (docs/decisions/0014) until its lifecycle rule removes
    # them: an event for a generation no longer there stands for one removed for good.
    generation = str(int(kept) + 1)
    product_id = contract.product_id(config.upload_bucket(), name, generation)
    assert app.test_client().post("/", **_event(name, generation)).status_code == 200
    doc = products.get(product_id)
    assert doc and doc["status"] == contract.REJECTED and doc["rejection"]["code"] == "upload_missing"


def test_outside_uploads_and_other_event_types_are_ignored(app, seller, paused_pipeline) -> None:
    generation, _ = upload("elsewhere/x.jpg", _jpeg(16))
    assert app.test_client().post("/", **_event("elsewhere/x.jpg", generation)).status_code == 200
    name = f"uploads/{seller}/meta.jpg"
    generation, _ = upload(name, _jpeg(17))
    deleted = _event(name, generation, "google.cloud.storage.object.v1.deleted")
    assert app.test_client().post("/", **deleted).status_code == 200
    assert product_count() == 0


def test_a_file_that_crashes_every_attempt_ends_rejected(
    app, seller, product_events, paused_pipeline, monkeypatch
) -> None:
    def crash(*args: Any) -> Any:
        raise MemoryError("decoder blew up")  # the kind of fault no validation foresees

    monkeypatch.setattr("fashiontag.images.decode", crash)
    name = f"uploads/{seller}/cursed.jpg"
    generation, product_id = upload(name, _jpeg(18))
    client = app.test_client()
    # Each failed attempt is left to Pub/Sub to retry, with the lease released for the next one.
    for attempt in range(1, 5):
        assert client.post("/", **_event(name, generation)).status_code == 500
        doc = products.get(product_id)
        assert doc and doc["status"] == contract.RECEIVED and doc["attempts"] == attempt and "lease" not in doc
    assert client.post("/", **_event(name, generation)).status_code == 200
    doc = products.get(product_id)
    assert doc and products.is_finished(doc)
    assert doc["status"] == contract.REJECTED and doc["rejection"]["code"] == "processing_failed"
    events = [e for e in product_events.drain() if e["data"]["product_id"] == product_id]
    assert [e["data"]["type"] for e in events] == ["product.rejected"]
