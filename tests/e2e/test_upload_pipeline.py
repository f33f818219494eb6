"""Upload -> product, end to end on the emulators: bridge, CloudEvent, function, Firestore, Pub/Sub."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from fashiontag import clients, config, contract
from tests import corpus
from tests.helpers import EventTap, product_count, upload, wait_finished, wait_until


@pytest.fixture
def product_events(stack) -> Iterator[EventTap]:
    tap = EventTap(stack.url("pubsub"), stack.project, contract.TOPIC_PRODUCT_EVENTS)
    yield tap
    tap.close()


def _jpeg(seed: int) -> bytes:
    return corpus.jpeg(corpus.garment_photo(seed))


def test_upload_becomes_classified_product(stack, seller, product_events) -> None:
    name = f"uploads/{seller}/shirt.jpg"
    generation, product_id = upload(name, _jpeg(1))

    doc = wait_finished(product_id, timeout_s=10)

    assert doc["status"] in (contract.AUTO_ACCEPTED, contract.NEEDS_REVIEW)
    assert doc["seller_id"] == seller
    assert doc["image"]["name"] == name and doc["image"]["generation"] == generation
    assert doc["image"]["width"] > 0 and len(doc["image"]["sha256"]) == 64
    category = doc["prediction"]["category"]
    assert category["label"] in [c["label"] for c in category["top"]]
    assert len(category["top"]) == 3
    assert [t["confidence"] for t in category["top"]] == sorted(
        (t["confidence"] for t in category["top"]), reverse=True
    )
    assert doc["prediction"]["model"] == {"name": "category", "version": config.category_model_version()}
    assert doc["spec"]["category"] == category["label"]
    # The version's own threshold, chosen on held-out photos, decides; the reason says why not.
    threshold = json.loads((config.category_model_dir() / "model.json").read_text())["auto_accept_threshold"]
    expected = contract.AUTO_ACCEPTED if category["confidence"] >= threshold else contract.NEEDS_REVIEW
    assert doc["status"] == expected
    assert (doc["review_reason"] is None) == (expected == contract.AUTO_ACCEPTED)
    bucket = clients.storage_client().bucket(config.upload_bucket())
    assert bucket.blob(doc["derived"]["input"]).exists()
    assert bucket.get_blob(name).custom_time is None  # kept: only rejected uploads expire
    assert bucket.blob(doc["derived"]["thumbnail"]).exists()

    events = [e for e in product_events.drain() if e["data"]["product_id"] == product_id]
    assert len(events) == 1
    assert events[0]["attributes"]["type"] == events[0]["data"]["type"] == "product.classified"
    assert events[0]["data"]["seller_id"] == seller


def test_a_photo_with_no_garment_goes_to_review_not_rejection(stack, seller, product_events) -> None:
    _, product_id = upload(f"uploads/{seller}/empty.jpg", corpus.empty_photos()["empty-everyday-backdrop.jpg"])
    doc = wait_finished(product_id, timeout_s=10)
    assert doc["status"] == contract.NEEDS_REVIEW
    assert doc["review_reason"]["code"] == "no_garment_found"
    assert "No garment" in doc["review_reason"]["message"]
    assert doc["prediction"]["colours"] == []
    events = [e for e in product_events.drain() if e["data"]["product_id"] == product_id]
    assert [e["data"]["type"] for e in events] == ["product.classified"]


def test_bad_files_are_rejected_with_a_code_for_their_fault(stack, seller, product_events) -> None:
    uploaded = {}
    for name, (data, code) in corpus.bad_files().items():
        if code == "file_too_large":
            continue  # needs a 20 MB upload; covered by the unit tests with a small limit
        _, product_id = upload(f"uploads/{seller}/{name}", data, "application/octet-stream")
        uploaded[product_id] = (name, code)

    bucket = clients.storage_client().bucket(config.upload_bucket())
    for product_id, (name, code) in uploaded.items():
        doc = wait_finished(product_id)
        assert doc["status"] == contract.REJECTED, name
        assert doc["rejection"]["code"] == code, name
        assert doc["rejection"]["message"], name
        # The retention clock of the bucket's lifecycle rule for rejected uploads has started.
        blob = bucket.get_blob(doc["image"]["name"])
        assert blob is not None and blob.custom_time is not None, name

    events = product_events.drain()
    rejected = [e for e in events if e["data"]["product_id"] in uploaded]
    assert sorted(e["data"]["product_id"] for e in rejected) == sorted(uploaded)
    assert {e["attributes"]["type"] for e in rejected} == {"product.rejected"}


def test_odd_but_valid_images_are_classified(stack, seller) -> None:
    ids = {name: upload(f"uploads/{seller}/{name}", data)[1] for name, data in corpus.odd_valid_files().items()}
    for name, product_id in ids.items():
        doc = wait_finished(product_id)
        assert doc["status"] in (contract.AUTO_ACCEPTED, contract.NEEDS_REVIEW), (name, doc.get("rejection"))
        assert doc["image"]["name"] == f"uploads/{seller}/{name}"


def test_objects_outside_uploads_are_ignored(stack, seller) -> None:
    data = _jpeg(2)
    # Names unique to this test, so the log lines below can only come from these uploads.
    outside = (f"derived/{seller}/x.jpg", f"elsewhere/{seller}.jpg", f"uploads/{seller}.jpg", f"uploads/{seller}/")
    for name in outside:
        upload(name, data)
    _, control = upload(f"uploads/{seller}/control.jpg", data)
    wait_finished(control)
    # Not vacuous: on_upload received every one of them and said it ignored it.
    log = stack.state_dir / "logs" / "on_upload.log"
    wait_until(
        lambda: all(f"ignored {name}: not under" in log.read_text() for name in outside),
        15,
        lambda: f"on_upload did not report ignoring all of {outside}",
    )
    assert product_count() == 1


def test_new_generation_of_an_object_is_a_new_product(stack, seller) -> None:
    name = f"uploads/{seller}/same-name.jpg"
    _, first = upload(name, _jpeg(3))
    wait_finished(first)
    _, second = upload(name, _jpeg(4))
    wait_finished(second)
    assert first != second
    assert product_count() == 2
