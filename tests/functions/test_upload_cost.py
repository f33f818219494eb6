"""What one upload costs in calls to Firestore, Pub/Sub and Cloud Storage, counted on the real
emulators while the real on_upload entry point handles real CloudEvents.

The counts are the budget of docs/cost.md: a change that adds a round trip per upload fails
here. Counted after a first upload of the same garment has loaded the models and looked at the
registry (for the category and its attribute model), which an instance does once per
``FASHIONTAG_MODEL_REFRESH_SECONDS``, not per upload.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from functions_framework import create_app

from fashiontag import contract, products, topology
from fashiontag.local import stack as local_stack
from fashiontag.local.stack import StackConfig
from fashiontag.tools.calls import Calls, counting
from tests import corpus, events
from tests.helpers import upload

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "on_upload" / "main.py"

# One product created and completed by two conditional writes (no read on a first delivery),
# one event, the photo read once, and the two derived images the product's pages and training use.
CLASSIFIED = {"firestore.Commit": 2, "pubsub.Publish": 1, "storage.GET": 1, "storage.POST": 2}
# A rejected file: the same two writes and one event; its upload gets a customTime (expiry) instead.
REJECTED = {"firestore.Commit": 2, "pubsub.Publish": 1, "storage.GET": 1, "storage.PATCH": 1}


@pytest.fixture
def counted(stack: StackConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    monkeypatch.setenv("FASHIONTAG_MODEL_REFRESH_SECONDS", "3600")
    with local_stack.paused(stack, topology.LOCAL_SUBSCRIPTIONS[0].name), counting(stack.url("storage")) as calls:
        yield calls


def _deliver(seller: str, stem: str, data: bytes, calls: Calls) -> tuple[dict[str, int], dict[str, object]]:
    app = create_app("on_upload", str(SOURCE), "cloudevent")
    name = f"uploads/{seller}/{stem}.jpg"
    generation, product_id = upload(name, data)
    before = calls.copy()
    response = app.test_client().post("/", **events.request(events.storage_finalized(name, generation)))
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
