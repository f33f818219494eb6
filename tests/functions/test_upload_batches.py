"""An upload batch from end to end, on the emulators: the admin function's POST /api/uploads
opens the sessions, the test PUTs each file to its session as the seller's page does, and the
stack's own functions (on_upload through the storage bridge, notify through Pub/Sub) do the rest.

Every object carries the request's batch as custom metadata (fake-gcs-server keeps what the
session's initiation set, and its notification carries it, as Eventarc's event does), every
product records it, and the seller hears of the batch in one notification.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from functions_framework import create_app
from google.cloud import firestore

from fashiontag import clients, config, contract, reconciler, topology
from fashiontag.admin import identity
from fashiontag.local import stack as local_stack
from fashiontag.local.stack import StackConfig
from tests import corpus
from tests.helpers import sign_in, upload, wait_finished, wait_until

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "admin" / "main.py"
PASSWORD = "pass-word-1"
SELLER_UID = "seller-batch"
BRIDGE_SUB = next(s for s in topology.LOCAL_SUBSCRIPTIONS if s.target == "storage_bridge")


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    corpus.garment_photo(seed).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _seller_headers() -> dict[str, str]:
    identity.add_user("batch@shop.test", contract.SELLER, PASSWORD, None, SELLER_UID)
    return {"Authorization": f"Bearer {sign_in('batch@shop.test', PASSWORD)}"}


def test_the_files_of_one_upload_request_are_one_batch_and_its_seller_gets_one_notification(
    stack: StackConfig,
) -> None:
    client = create_app("admin", str(SOURCE), "http")
    headers = _seller_headers()
    photos = {"front.jpg": _jpeg(3), "back.jpg": _jpeg(5), "broken.jpg": b"\xff\xd8\xff\xe0 no photo at all"}
    files = [{"name": name, "size": len(data), "content_type": "image/jpeg"} for name, data in photos.items()]
    # The browser sends the batch, and the last file fails on the way: "Retry" sends it again,
    # naming the batch, which it completes.
    response = client.test_client().post("/api/uploads", json={"files": files}, headers=headers)
    assert response.status_code == 201, response.get_json()
    sessions = response.get_json()["sessions"]
    batch = sessions[0]["batch"]
    batch_id = batch["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", batch_id) and all(s["batch"] == {"id": batch_id, "size": 3} for s in sessions)
    again = client.test_client().post("/api/uploads", json={"files": files[2:], "batch": batch}, headers=headers)
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["sessions"][0]["batch"] == batch
    for wrong in ({"id": batch_id, "size": 0}, {"id": "../x", "size": 3}, "b", {"id": batch_id, "size": 2}):
        refused = client.test_client().post("/api/uploads", json={"files": files, "batch": wrong}, headers=headers)
        assert refused.status_code == 400, wrong

    bucket = clients.storage_client().bucket(config.upload_bucket())
    product_ids = []
    for session in [*sessions[:2], *again.get_json()["sessions"]]:
        data = photos[session["file"]]
        put = requests.put(session["session_url"], data=data, headers={"Content-Type": "image/jpeg"}, timeout=10)
        assert put.ok, put.text
        blob = bucket.get_blob(session["object"])
        assert blob is not None and blob.metadata == {"batch": batch_id, "batch_size": "3"}
        product_ids.append(contract.product_id(config.upload_bucket(), blob.name, str(blob.generation)))

    finished = [wait_finished(product_id, 30) for product_id in product_ids]
    assert [doc["batch"] for doc in finished] == [{"id": batch_id, "size": 3}] * 3
    assert sorted(doc["status"] == contract.REJECTED for doc in finished) == [False, False, True]

    notifications = clients.firestore_client().collection(contract.NOTIFICATIONS)
    nid = contract.batch_notification_id(batch_id, SELLER_UID)

    def complete() -> dict[str, Any] | None:
        doc = notifications.document(nid).get().to_dict()
        return doc if doc and len(doc["batch"]["outcomes"]) == 3 else None

    notice = wait_until(complete, 30, lambda: f"batch notification: {notifications.document(nid).get().to_dict()}")
    assert notice["to"] == SELLER_UID and notice["kind"] == contract.PRODUCT_BATCH and notice["product_id"] is None
    assert notice["title"].startswith("Your 3 photos: ") and notice["title"].endswith(", 1 rejected")
    assert "done so far" not in notice["title"]
    rejected = r"Rejected: broken-[0-9a-f]{12}\.jpg – The image file is damaged and cannot be opened\."
    assert re.match(rejected, notice["body"]), notice["body"]
    mine = notifications.where(filter=firestore.FieldFilter("to", "==", SELLER_UID)).get()
    assert [snap.id for snap in mine] == [nid]  # one notification, not one per photo


def test_a_photo_uploaded_by_another_tool_has_no_batch_and_its_own_notification(stack: StackConfig) -> None:
    """``fashiontag upload``, gsutil: no metadata, so no batch, and the per-photo notification."""
    _, product_id = upload(f"uploads/{SELLER_UID}/solo.jpg", _jpeg(3))
    doc = wait_finished(product_id, 30)
    assert "batch" not in doc
    notifications = clients.firestore_client().collection(contract.NOTIFICATIONS)
    query = notifications.where(filter=firestore.FieldFilter("to", "==", SELLER_UID))
    (notice,) = wait_until(lambda: query.get(), 30, lambda: "no notification for the single upload")
    assert notice.get("product_id") == product_id and notice.get("kind") == doc["event"]["type"]


def test_an_upload_the_reconciler_drives_keeps_its_batch(stack: StackConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """No delivery came (held): the reconciler lists the object, metadata included, and drives it."""
    monkeypatch.setenv("FASHIONTAG_RECONCILE_GRACE_SECONDS", "0")
    metadata = {contract.BATCH_METADATA_ID: "b-reconciled", contract.BATCH_METADATA_SIZE: "2"}
    with local_stack.paused(stack, BRIDGE_SUB.name):
        _, product_id = upload(f"uploads/{SELLER_UID}/held.jpg", _jpeg(3), metadata=metadata)
        reconciler.reconcile()
    doc = wait_finished(product_id, 30)
    assert doc["batch"] == {"id": "b-reconciled", "size": 2}
