"""What one upload costs in calls to Firestore, Pub/Sub and Cloud Storage, counted on the real
emulators while the real on_upload entry point handles real CloudEvents.

The counts are the budget of docs/cost.md: a change that adds a round trip per upload fails
here. Counted after a first upload of the same garment has loaded the models and looked at the
registry (for the category and its attribute model), which an instance does once per
``FASHIONTAG_MODEL_REFRESH_SECONDS``, not per upload.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from functions_framework import create_app

from fashiontag import contract, products, topology
from fashiontag.local import stack as local_stack
from fashiontag.local.stack import StackConfig
from fashiontag.tools.calls import Calls, counting
from tests import corpus, events
from tests.functions.test_admin import add_person
from tests.helpers import EventTap, upload, wait_until

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "on_upload" / "main.py"

# One product created and completed by two conditional writes (no read on a first delivery),
# one event, the photo read once, and the two derived images the product's pages and training use.
CLASSIFIED = {"firestore.Commit": 2, "pubsub.Publish": 1, "storage.GET": 1, "storage.POST": 2}
# A rejected file: the same two writes and one event; its upload gets a customTime (expiry) instead.
# An upload for review, end to end: on_upload as above; notify writes two notifications (the
# seller's, the managers' shared one) in one commit and looks up where to push them (the
# seller's user record, the managers by role: here nobody has a device, so no push); retrain
# sees no label and stops.
CHAIN = {
    "on_upload": CLASSIFIED,
    "notify": {"firestore.BatchGetDocuments": 1, "firestore.RunQuery": 1, "firestore.Commit": 1},
    "retrain": {},
}
REJECTED = {"firestore.Commit": 2, "pubsub.Publish": 1, "storage.GET": 1, "storage.PATCH": 1}
# A photo of an upload batch (admin.upload_sessions; here a batch of 2, both for review).
# on_upload costs exactly what it does for any upload: the batch comes in the event's object
# metadata and goes into the product's first write. notify changes: the seller's per-photo
# notification (1 create, then 1 read of the seller's devices to push it) becomes one fold into
# the batch's notification, a transaction (BeginTransaction, the notification read in it,
# the commit), and the seller's devices are read only by the photo that completes the batch,
# which pushes once for the whole batch instead of once per photo. The managers' notification
# stays per photo (1 create, the query of their devices).
BATCHED_FIRST = {
    "on_upload": CLASSIFIED,
    "notify": {
        "firestore.BeginTransaction": 1,
        "firestore.BatchGetDocuments": 1,
        "firestore.Commit": 2,
        "firestore.RunQuery": 1,
    },
    "retrain": {},
}
BATCHED_LAST = {
    "on_upload": CLASSIFIED,
    "notify": {
        "firestore.BeginTransaction": 1,
        "firestore.BatchGetDocuments": 2,
        "firestore.Commit": 2,
        "firestore.RunQuery": 1,
    },
    "retrain": {},
}


@pytest.fixture
def counted(stack: StackConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    monkeypatch.setenv("FASHIONTAG_MODEL_REFRESH_SECONDS", "3600")
    with local_stack.paused(stack, topology.LOCAL_SUBSCRIPTIONS[0].name), counting(stack.url("storage")) as calls:
        yield calls


def _deliver(
    seller: str, stem: str, data: bytes, calls: Calls, metadata: dict[str, str] | None = None
) -> tuple[dict[str, int], dict[str, object]]:
    app = create_app("on_upload", str(SOURCE), "cloudevent")
    name = f"uploads/{seller}/{stem}.jpg"
    generation, product_id = upload(name, data, metadata=metadata)
    before = calls.copy()
    event = events.storage_finalized(name, generation, metadata=metadata)
    response = app.test_client().post("/", **events.request(event))
    assert response.status_code == 200
    spent = dict(calls - before)
    return spent, products.get(product_id) or {}


def test_a_classified_upload_costs_two_writes_one_event_one_read_of_the_photo_and_two_images(
    counted: Calls, seller: str
) -> None:
    _deliver(seller, "warm-up", corpus.jpeg(corpus.garment_photo(3)), counted)
    spent, doc = _deliver(seller, "counted", corpus.jpeg(corpus.garment_photo(3)), counted)
    assert doc["status"] in (contract.AUTO_ACCEPTED, contract.NEEDS_REVIEW) and products.is_finished(doc)
    assert spent == CLASSIFIED


def test_a_rejected_upload_costs_as_little(counted: Calls, seller: str) -> None:
    _deliver(seller, "warm-up", corpus.jpeg(corpus.garment_photo(3)), counted)
    spent, doc = _deliver(seller, "broken", b"\xff\xd8\xff\xe0 this is no photo", counted)
    assert doc["status"] == contract.REJECTED and products.is_finished(doc)
    assert spent == REJECTED


def _chain(
    stack: StackConfig, seller: str, calls: Calls, metadata: dict[str, str] | None = None
) -> dict[str, dict[str, int]]:
    """One upload through on_upload, then its product event through notify and retrain, each counted."""
    spent: dict[str, dict[str, int]] = {}
    tap = EventTap(stack.url("pubsub"), stack.project, contract.TOPIC_PRODUCT_EVENTS)
    try:
        photo = corpus.jpeg(corpus.garment_photo(4))
        spent["on_upload"], doc = _deliver(seller, f"chain-{uuid.uuid4().hex[:8]}", photo, calls, metadata)
        (message,) = wait_until(lambda: tap.drain(0.3) or None, 20, lambda: "no product event")
    finally:
        tap.close()
    for target in ("notify", "retrain"):
        app = create_app(target, str(SOURCE.parents[1] / target / "main.py"), "cloudevent")
        event = events.pubsub_message(
            message["data"], contract.TOPIC_PRODUCT_EVENTS, f"product-events-{target}", message["attributes"]
        )
        before = calls.copy()
        assert app.test_client().post("/", **events.request(event)).status_code in (200, 204)
        spent[target] = dict(calls - before)
    assert doc["status"] == contract.NEEDS_REVIEW, doc["status"]
    return spent


def test_the_whole_chain_of_an_upload_for_review(stack: StackConfig, counted: Calls, seller: str) -> None:
    """What docs/cost.md multiplies by a thousand: an upload that goes to review (its seller and
    the managers are told), through every function it reaches."""
    for n in range(3):
        add_person(f"m{n}@cost.test", "manager")
    add_person(f"{seller}@cost.test", "seller", seller)
    with ExitStack() as paused:
        for target in ("notify", "retrain"):
            paused.enter_context(local_stack.paused(stack, f"product-events-{target}"))
        _chain(stack, seller, counted)  # warm-up
        spent = _chain(stack, seller, counted)
    assert spent == CHAIN, spent


def test_the_chain_of_a_batch_for_review_folds_the_sellers_notices_and_pushes_once(
    stack: StackConfig, counted: Calls, seller: str
) -> None:
    """Two photos of one batch through the same chain: see BATCHED_FIRST and BATCHED_LAST."""
    for n in range(3):
        add_person(f"m{n}@cost.test", "manager")
    add_person(f"{seller}@cost.test", "seller", seller)
    batch = {contract.BATCH_METADATA_ID: uuid.uuid4().hex, contract.BATCH_METADATA_SIZE: "2"}
    with ExitStack() as paused:
        for target in ("notify", "retrain"):
            paused.enter_context(local_stack.paused(stack, f"product-events-{target}"))
        _chain(stack, seller, counted)  # warm-up
        first = _chain(stack, seller, counted, batch)
        last = _chain(stack, seller, counted, batch)
    assert (first, last) == (BATCHED_FIRST, BATCHED_LAST), (first, last)
