"""Upload -> product.classified on product-events -> the stack's push subscription -> the running
notify function -> the seller's notification (and its push in the outbox), end to end."""

from __future__ import annotations

import io
import time
from typing import Any

import requests
from google.cloud import firestore

from fashiontag import clients, contract, pushes, topology
from fashiontag.contract import MANAGERS, NOTIFICATIONS, PUSH_OUTBOX, USERS
from tests import corpus, factories
from tests.helpers import upload, wait_finished, wait_until


def _wait_notifications(product_id: str, expected: set[str], timeout_s: float = 20.0) -> dict[str, Any]:
    """The product's notifications by recipient, once ``expected`` are all there."""
    query = (
        clients.firestore_client()
        .collection(NOTIFICATIONS)
        .where(filter=firestore.FieldFilter("product_id", "==", product_id))
    )
    found: dict[str, Any] = {}

    def complete() -> dict[str, Any] | None:
        nonlocal found
        found = {doc["to"]: doc for doc in ({"id": s.id, **(s.to_dict() or {})} for s in query.stream())}
        return found if expected <= set(found) else None

    return wait_until(complete, timeout_s, lambda: f"notifications for {product_id} not there: {found}")


def _wait_document(path: str, timeout_s: float = 10.0) -> dict[str, Any]:
    ref = clients.firestore_client().document(path)

    def existing() -> Any:
        snap = ref.get()
        return snap if snap.exists else None

    return wait_until(existing, timeout_s, lambda: f"{path} not there").to_dict() or {}


def test_an_upload_notifies_its_seller(stack, seller) -> None:
    factories.user(seller, contract.SELLER, ["seller-phone"])
    buf = io.BytesIO()
    corpus.garment_photo(3).save(buf, "JPEG", quality=90)
    _, product_id = upload(f"uploads/{seller}/jacket.jpg", buf.getvalue())

    product = wait_finished(product_id)
    needs_review = product["status"] == contract.NEEDS_REVIEW
    found = _wait_notifications(product_id, {seller, MANAGERS} if needs_review else {seller})

    mine = found[seller]
    assert mine["kind"] == "product.classified" and mine["read"] is False
    assert mine["body"].startswith("Your photo jacket.jpg was classified as ")
    push = _wait_document(f"{PUSH_OUTBOX}/{mine['id']}")  # written just after the notification
    assert push["tokens"] == ["seller-phone"] and push["body"] == mine["body"]
    time.sleep(1.0)  # room for a late duplicate delivery to show
    query = (
        clients.firestore_client()
        .collection(NOTIFICATIONS)
        .where(filter=firestore.FieldFilter("product_id", "==", product_id))
    )
    assert sorted(snap.get("to") for snap in query.stream()) == sorted(found)


def test_notify_subscriptions_have_retry_and_dead_letter_policies(stack) -> None:
    base = f"{stack.url('pubsub')}/v1/projects/{stack.project}/subscriptions"
    subscriptions = [s for s in topology.LOCAL_SUBSCRIPTIONS if s.target == "notify"]
    assert {s.topic for s in subscriptions} == {
        contract.TOPIC_PRODUCT_EVENTS,
        contract.TOPIC_MODEL_EVENTS,
        contract.TOPIC_MESSAGE_EVENTS,
    }
    for sub in subscriptions:
        live = requests.get(f"{base}/{sub.name}", timeout=10).json()
        assert live["pushConfig"]["pushEndpoint"] == (
            f"{stack.url('notify')}/projects/{stack.project}/topics/{sub.topic}"
        )
        assert live["deadLetterPolicy"]["deadLetterTopic"].endswith(f"/topics/{sub.topic}-dead-letter")
        assert live["deadLetterPolicy"]["maxDeliveryAttempts"] == sub.max_delivery_attempts
        assert live["retryPolicy"]["maximumBackoff"].rstrip("s").split(".")[0] == str(sub.retry.maximum_backoff_s)


def test_dead_devices_are_forgotten_by_every_user_listing_them(stack) -> None:
    users = clients.firestore_client().collection(USERS)
    users.document("ann").set({"role": "seller", "device_tokens": ["fid-dead", "fid-live"]})
    users.document("max").set({"role": "manager", "device_tokens": ["fid-dead"]})
    users.document("zoe").set({"role": "manager", "device_tokens": ["fid-other"]})

    assert pushes.forget_devices(["fid-dead"]) == 2

    tokens = {snap.id: (snap.to_dict() or {})["device_tokens"] for snap in users.stream()}
    assert tokens == {"ann": ["fid-live"], "max": [], "zoe": ["fid-other"]}
