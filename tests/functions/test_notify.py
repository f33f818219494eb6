"""The real notify entry point, driven by functions-framework's test client with real Pub/Sub
CloudEvents (``google.cloud.pubsub.topic.v1.messagePublished``), against the emulators.

The stack's own push subscriptions to notify are paused while these tests deliver events
themselves, so nothing but the test writes notifications meanwhile.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cloudevents.http import CloudEvent
from functions_framework import create_app
from google.cloud import firestore

from fashiontag import clients, config, contract, topology
from fashiontag.contract import MANAGERS, NOTIFICATIONS, OBJECT_FINALIZED, PUSH_OUTBOX, notification_id
from tests import events, factories

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "notify" / "main.py"
NOTIFY_SUBS = [s for s in topology.LOCAL_SUBSCRIPTIONS if s.target == "notify"]


@pytest.fixture
def paused_notify(stack) -> Iterator[None]:
    base = f"{stack.url('pubsub')}/v1/projects/{stack.project}/subscriptions"
    for sub in NOTIFY_SUBS:
        requests.post(f"{base}/{sub.name}:modifyPushConfig", json={"pushConfig": {}}, timeout=10).raise_for_status()
    try:
        yield
    finally:
        for sub in NOTIFY_SUBS:
            # Drop what queued up meanwhile: delivered after the next test's reset, it would land there.
            while (
                received := requests.post(
                    f"{base}/{sub.name}:pull", json={"maxMessages": 100, "returnImmediately": True}, timeout=10
                )
                .json()
                .get("receivedMessages", [])
            ):
                requests.post(
                    f"{base}/{sub.name}:acknowledge",
                    json={"ackIds": [item["ackId"] for item in received]},
                    timeout=10,
                ).raise_for_status()
            endpoint = f"{stack.url('notify')}/projects/{stack.project}/topics/{sub.topic}"
            requests.post(
                f"{base}/{sub.name}:modifyPushConfig",
                json={"pushConfig": {"pushEndpoint": endpoint}},
                timeout=10,
            ).raise_for_status()


@pytest.fixture
def app(stack, paused_notify):
    return create_app("notify", str(SOURCE), "cloudevent")


def _cloud_event(
    body: dict[str, Any] | bytes, topic: str = contract.TOPIC_PRODUCT_EVENTS, attributes: dict[str, str] | None = None
) -> CloudEvent:
    """What functions-framework hands notify for a push on ``topic``; attributes as publish sets them."""
    if attributes is None and isinstance(body, dict):
        attributes = {"type": str(body.get("type")), "event_id": str(body.get("event_id"))}
    return events.pubsub_message(body, topic, f"{topic}-notify", attributes or {})


def _deliver(app, body: dict[str, Any] | bytes, **kwargs: Any) -> int:
    return int(app.test_client().post("/", **events.request(_cloud_event(body, **kwargs))).status_code)


def _notifications(**where: str) -> list[dict[str, Any]]:
    query: Any = clients.firestore_client().collection(NOTIFICATIONS)
    for field, value in where.items():
        query = query.where(filter=firestore.FieldFilter(field, "==", value))
    return [{"id": snap.id, **(snap.to_dict() or {})} for snap in query.stream()]


def _by_recipient(**where: str) -> dict[str, dict[str, Any]]:
    found = _notifications(**where)
    by_to = {n["to"]: n for n in found}
    assert len(by_to) == len(found), f"more than one notification for a recipient: {found}"
    return by_to


def _classified(seller: str, status: str = contract.NEEDS_REVIEW, name: str = "shirt.jpg") -> dict[str, Any]:
    product_id = uuid.uuid4().hex
    return {
        "type": "product.classified",
        "event_id": f"product.classified:{product_id}",
        "product_id": product_id,
        "seller_id": seller,
        "status": status,
        "image": {"bucket": config.upload_bucket(), "name": f"uploads/{seller}/{name}"},
        "category": {"label": "shirt", "confidence": 0.8713},
    }


def test_classified_for_review_notifies_the_seller_and_the_managers(app, seller) -> None:
    event = _classified(seller)
    assert _deliver(app, event) == 200

    found = _by_recipient(product_id=event["product_id"])
    assert set(found) == {seller, MANAGERS}
    mine = found[seller]
    assert mine["id"] == notification_id(event["event_id"], seller)
    assert mine["kind"] == "product.classified" and mine["read"] is False
    assert mine["title"] == "Photo classified"
    assert mine["body"] == "Your photo shirt.jpg was classified as Shirt (87%). A manager will check it."
    assert isinstance(mine["created_at"], dt.datetime)
    assert "needs review" in found[MANAGERS]["body"]


def test_classified_auto_accepted_notifies_only_the_seller(app, seller) -> None:
    event = _classified(seller, contract.AUTO_ACCEPTED)
    assert _deliver(app, event) == 200
    assert set(_by_recipient(product_id=event["product_id"])) == {seller}


def test_rejected_notifies_the_seller_with_the_reason_and_the_managers(app, seller) -> None:
    product_id = uuid.uuid4().hex
    event = {
        "type": "product.rejected",
        "event_id": f"product.rejected:{product_id}",
        "product_id": product_id,
        "seller_id": seller,
        "status": contract.REJECTED,
        "image": {"bucket": config.upload_bucket(), "name": f"uploads/{seller}/x.pdf"},
        "rejection": {"code": "not_an_image", "message": "This file is not a photo (JPEG, PNG or WebP)."},
    }
    assert _deliver(app, event) == 200
    found = _by_recipient(product_id=product_id)
    assert set(found) == {seller, MANAGERS}
    assert found[seller]["body"] == "Your photo x.pdf was rejected: This file is not a photo (JPEG, PNG or WebP)."
    assert found[seller]["kind"] == "product.rejected"


@pytest.mark.parametrize("kind", ["product.reviewed", "product.published"])
def test_review_and_publication_notify_the_seller(app, seller, kind: str) -> None:
    product_id = uuid.uuid4().hex
    clients.firestore_client().collection(contract.PRODUCTS).document(product_id).set(
        {
            "seller_id": seller,
            "status": contract.VERIFIED if kind == "product.reviewed" else contract.PUBLISHED,
            "image": {"name": f"uploads/{seller}/coat.png"},
            "spec": {"category": "coat"},
        }
    )
    event = {"type": kind, "event_id": f"{kind}:{product_id}:1", "product_id": product_id, "seller_id": seller}
    assert _deliver(app, {**event, "by": "manager-1"}) == 200
    found = _by_recipient(product_id=product_id)
    assert set(found) == {seller}
    assert "Coat (coat.png)" in found[seller]["body"] and found[seller]["kind"] == kind


@pytest.mark.parametrize("kind", ["model.trained", "model.promoted", "model.rejected"])
def test_model_events_notify_the_managers(app, kind: str) -> None:
    version = f"v{uuid.uuid4().hex[:6]}"
    event: dict[str, Any] = {
        "type": kind,
        "event_id": f"{kind}:category:{version}",
        "model": "category",
        "version": version,
        "previous_version": "v1",
        "metrics": {"accuracy": 0.912},
        "reason": "beats v1 by 1.2 points",
    }
    assert _deliver(app, event, topic=contract.TOPIC_MODEL_EVENTS) == 200
    found = _by_recipient(event_id=event["event_id"])
    assert set(found) == {MANAGERS}
    assert f"category {version}" in found[MANAGERS]["body"] and found[MANAGERS]["product_id"] is None


@pytest.mark.parametrize("to", ["buyer-or-seller", MANAGERS])
def test_a_message_notifies_its_addressee(app, seller, to: str) -> None:
    message_id = uuid.uuid4().hex
    recipient = seller if to == "buyer-or-seller" else to
    event = {
        "type": "message.sent",
        "event_id": f"message.sent:{message_id}",
        "message_id": message_id,
        "from": "someone",
        "from_role": "manager" if to != MANAGERS else "seller",
        "to": recipient,
        "product_id": "p-1",
        "text": "Could you add a photo of the label?",
    }
    assert _deliver(app, event, topic=contract.TOPIC_MESSAGE_EVENTS) == 200
    found = _by_recipient(event_id=event["event_id"])
    assert set(found) == {recipient}
    assert found[recipient]["body"] == "Could you add a photo of the label?"
    assert found[recipient]["product_id"] == "p-1"


def test_five_deliveries_one_after_another_give_one_notification_each(app, seller) -> None:
    event = _classified(seller)
    for _ in range(5):
        assert _deliver(app, event) == 200
    assert set(_by_recipient(product_id=event["product_id"])) == {seller, MANAGERS}


def test_a_redelivery_after_one_of_two_notifications_was_written_writes_the_other(app, seller) -> None:
    # The first delivery writes both in one commit; one left from an earlier, interrupted
    # delivery fails that commit as a whole, and each is then created on its own.
    event = _classified(seller)
    ref = clients.firestore_client().collection(NOTIFICATIONS).document(notification_id(event["event_id"], seller))
    ref.create({"to": seller, "kind": "product.classified", "body": "from before", "product_id": event["product_id"]})
    assert _deliver(app, event) == 200
    found = _by_recipient(product_id=event["product_id"])
    assert set(found) == {seller, MANAGERS}
    assert found[seller]["body"] == "from before"  # kept, not written twice
    assert "needs review" in found[MANAGERS]["body"]


def test_five_concurrent_deliveries_give_one_notification_and_one_push_each(app, seller) -> None:
    factories.user(seller, "seller", ["seller-phone"])
    factories.user(f"m-{seller}", "manager", ["manager-phone"])
    event = _classified(seller)
    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def deliver() -> None:
        client = app.test_client()
        request = events.request(_cloud_event(event))
        barrier.wait()
        statuses.append(client.post("/", **request).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert statuses == [200] * 5
    found = _by_recipient(product_id=event["product_id"])
    assert set(found) == {seller, MANAGERS}
    pushes = [
        snap.id
        for snap in clients.firestore_client().collection(PUSH_OUTBOX).stream()
        if snap.id in {n["id"] for n in found.values()}
    ]
    assert sorted(pushes) == sorted(n["id"] for n in found.values())


def test_push_outbox_gets_each_recipients_device_tokens(app, seller) -> None:
    factories.user(seller, "seller", ["seller-phone", "seller-tablet"])
    factories.user(f"m1-{seller}", "manager", ["m1-phone"])
    factories.user(f"m2-{seller}", "manager", ["m2-phone", "m1-phone"])
    factories.user(f"m3-{seller}", "manager")  # no devices
    factories.user(f"b-{seller}", "buyer", ["buyer-phone"])
    event = _classified(seller)
    assert _deliver(app, event) == 200

    found = _by_recipient(product_id=event["product_id"])
    outbox = clients.firestore_client().collection(PUSH_OUTBOX)
    to_seller = outbox.document(found[seller]["id"]).get().to_dict()
    assert to_seller is not None
    assert to_seller["tokens"] == ["seller-phone", "seller-tablet"]
    assert to_seller["title"] == found[seller]["title"] and to_seller["body"] == found[seller]["body"]
    assert to_seller["data"] == {
        "notification_id": found[seller]["id"],
        "kind": "product.classified",
        "product_id": event["product_id"],
    }
    to_managers = outbox.document(found[MANAGERS]["id"]).get().to_dict()
    assert to_managers is not None and sorted(to_managers["tokens"]) == ["m1-phone", "m2-phone"]


def test_no_push_for_a_user_without_devices(app, seller) -> None:
    factories.user(seller, "seller", [])
    event = _classified(seller, contract.AUTO_ACCEPTED)
    assert _deliver(app, event) == 200
    (notification,) = _notifications(product_id=event["product_id"])
    assert not clients.firestore_client().collection(PUSH_OUTBOX).document(notification["id"]).get().exists


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        json.dumps({"event_id": "no-type"}).encode(),
        json.dumps({"type": "product.classified", "event_id": "e-missing", "product_id": "p"}).encode(),
        json.dumps({"type": "message.sent", "event_id": "e-no-text", "to": "x"}).encode(),
    ],
)
def test_malformed_messages_are_acknowledged_and_write_nothing(app, body: bytes) -> None:
    assert _deliver(app, body, attributes={}) in (200, 204)
    assert _notifications() == []


def test_unknown_event_types_are_acknowledged_and_ignored(app) -> None:
    assert _deliver(app, {"type": "product.teleported", "event_id": "e-unknown", "product_id": "p"}) == 200
    assert _notifications() == []


def test_a_raw_pubsub_push_like_the_stack_sends_is_handled(app, seller, stack) -> None:
    """functions-framework turns a push to /projects/P/topics/T into the CloudEvent."""
    event = _classified(seller)
    envelope = _cloud_event(event).data
    path = f"/projects/{stack.project}/topics/{contract.TOPIC_PRODUCT_EVENTS}"
    assert app.test_client().post(path, json=envelope).status_code == 200
    assert set(_by_recipient(product_id=event["product_id"])) == {seller, MANAGERS}


def test_other_cloud_event_types_are_ignored(app) -> None:
    event = _cloud_event({"type": "product.classified", "event_id": "x"})
    event["type"] = OBJECT_FINALIZED
    assert app.test_client().post("/", **events.request(event)).status_code == 200
    assert _notifications() == []


# --- one notification per upload batch -------------------------------------------------------


def _batched(seller: str, batch_id: str, status: str, name: str, size: int = 3) -> dict[str, Any]:
    """A product event of one photo from an upload batch, as on_upload publishes it."""
    product_id = uuid.uuid4().hex
    kind = contract.PRODUCT_REJECTED if status == contract.REJECTED else contract.PRODUCT_CLASSIFIED
    event: dict[str, Any] = {
        "type": kind,
        "event_id": f"{kind}:{product_id}",
        "product_id": product_id,
        "seller_id": seller,
        "status": status,
        "image": {"bucket": config.upload_bucket(), "name": f"uploads/{seller}/{name}"},
        "batch": {"id": batch_id, "size": size},
    }
    if status == contract.REJECTED:
        event["rejection"] = {
            "code": "unsupported_format",
            "message": "This file is a PDF document, not a photo. Please upload a photo as JPEG, PNG or WebP.",
        }
    else:
        event["category"] = {"label": "shirt", "confidence": 0.91}
    return event


def _outbox(notification_id: str) -> dict[str, Any] | None:
    return clients.firestore_client().collection(PUSH_OUTBOX).document(notification_id).get().to_dict()


def test_a_batch_gives_its_seller_one_notification_updated_as_its_photos_finish(app, seller) -> None:
    factories.user(seller, "seller", ["seller-phone"])
    batch_id = uuid.uuid4().hex
    accepted = _batched(seller, batch_id, contract.AUTO_ACCEPTED, "IMG_1-aa.jpg")
    to_review = _batched(seller, batch_id, contract.NEEDS_REVIEW, "IMG_2-bb.jpg")
    rejected = _batched(seller, batch_id, contract.REJECTED, "scan-cc.pdf")
    nid = contract.batch_notification_id(batch_id, seller)
    ref = clients.firestore_client().collection(NOTIFICATIONS).document(nid)

    assert _deliver(app, accepted) == 200
    (mine,) = _notifications(to=seller)
    assert mine["id"] == nid and mine["kind"] == contract.PRODUCT_BATCH and mine["product_id"] is None
    assert mine["title"] == "Your 3 photos: 1 of 3 done so far: 1 accepted"
    assert mine["body"] == "Nothing needs your attention so far." and mine["read"] is False
    created_at = mine["created_at"]
    assert isinstance(created_at, dt.datetime) and isinstance(mine["updated_at"], dt.datetime)
    assert _outbox(nid) is None  # no push before the batch is complete

    ref.update({"read": True})  # the seller reads it
    assert _deliver(app, accepted) == 200  # a redelivery changes nothing: it stays read
    assert (ref.get().to_dict() or {})["read"] is True

    assert _deliver(app, to_review) == 200
    mine = ref.get().to_dict() or {}
    assert mine["title"] == "Your 3 photos: 2 of 3 done so far: 1 accepted, 1 to review"
    assert mine["body"] == "1 photo waits for a manager's check."
    assert mine["read"] is False and mine["updated_at"] > created_at  # news: unread again

    assert _deliver(app, rejected) == 200
    for redelivered in (rejected, to_review, accepted):
        assert _deliver(app, redelivered) == 200

    (mine,) = _notifications(to=seller)
    assert mine["title"] == "Your 3 photos: 1 accepted, 1 to review, 1 rejected"
    assert mine["body"] == (
        "Rejected: scan-cc.pdf – This file is a PDF document, not a photo. 1 photo waits for a manager's check."
    )
    assert mine["created_at"] == created_at and mine["read"] is False
    assert mine["batch"] == {
        "id": batch_id,
        "size": 3,
        "outcomes": {
            accepted["product_id"]: "accepted",
            to_review["product_id"]: "to review",
            rejected["product_id"]: "rejected",
        },
        "rejected": {rejected["product_id"]: rejected["rejection"]["message"]},
        "files": {
            accepted["product_id"]: "IMG_1-aa.jpg",
            to_review["product_id"]: "IMG_2-bb.jpg",
            rejected["product_id"]: "scan-cc.pdf",
        },
    }
    # One push, once the batch was complete, saying what the notification says.
    pushed = [snap.to_dict() or {} for snap in clients.firestore_client().collection(PUSH_OUTBOX).stream()]
    to_seller = [p for p in pushed if p.get("to") == seller]
    assert len(to_seller) == 1 and to_seller[0]["title"] == mine["title"] and to_seller[0]["body"] == mine["body"]
    assert to_seller[0]["data"] == {"notification_id": nid, "kind": contract.PRODUCT_BATCH}
    # The managers' notices stay per photo: they link to the product to review.
    managers = _notifications(to=MANAGERS)
    assert sorted(n["product_id"] for n in managers) == sorted([to_review["product_id"], rejected["product_id"]])


def test_concurrent_deliveries_for_the_photos_of_one_batch_lose_nothing_and_count_nothing_twice(app, seller) -> None:
    factories.user(seller, "seller", ["seller-phone"])
    batch_id = uuid.uuid4().hex
    photos = [
        _batched(seller, batch_id, contract.AUTO_ACCEPTED, "a.jpg"),
        _batched(seller, batch_id, contract.AUTO_ACCEPTED, "b.jpg"),
        _batched(seller, batch_id, contract.REJECTED, "c.pdf"),
    ]
    deliveries = photos * 2  # each photo's event twice, all at once
    barrier = threading.Barrier(len(deliveries))
    statuses: list[int] = []

    def deliver(event: dict[str, Any]) -> None:
        client = app.test_client()
        request = events.request(_cloud_event(event))
        barrier.wait()
        statuses.append(client.post("/", **request).status_code)

    threads = [threading.Thread(target=deliver, args=(event,)) for event in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert len(statuses) == len(deliveries) and set(statuses) <= {200, 500}
    # Under load the emulator may time a contended transaction out (ABORTED): notify answers
    # 500 and Pub/Sub delivers again, as here; nothing may be counted twice or lost either way.
    for event in photos:  # every photo once more, one after another
        assert _deliver(app, event) == 200
    (mine,) = _notifications(to=seller)
    assert mine["title"] == "Your 3 photos: 2 accepted, 1 rejected"
    assert mine["batch"]["outcomes"] == {
        photos[0]["product_id"]: "accepted",
        photos[1]["product_id"]: "accepted",
        photos[2]["product_id"]: "rejected",
    }
    outbox = [snap.id for snap in clients.firestore_client().collection(PUSH_OUTBOX).stream()]
    assert outbox.count(mine["id"]) == 1


def test_a_batch_of_one_keeps_the_per_photo_notification(app, seller) -> None:
    event = _batched(seller, uuid.uuid4().hex, contract.AUTO_ACCEPTED, "solo.jpg", size=1)
    assert _deliver(app, event) == 200
    (mine,) = _notifications(to=seller)
    assert mine["id"] == notification_id(event["event_id"], seller)
    assert mine["title"] == "Photo classified" and mine["product_id"] == event["product_id"]
