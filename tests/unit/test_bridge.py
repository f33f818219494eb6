"""The local bridge makes exactly the CloudEvent Eventarc delivers for a finalized object."""

from __future__ import annotations

import base64
import json

from fashiontag.contract import OBJECT_FINALIZED
from fashiontag.local.bridge import to_cloud_event

OBJ = {"bucket": "b", "name": "uploads/s/é.jpg", "generation": "17", "updated": "2026-11-30T01:02:03Z"}


def _message(event_type: str) -> dict[str, object]:
    return {
        "data": base64.b64encode(json.dumps(OBJ).encode()).decode(),
        "attributes": {"eventType": event_type, "bucketId": "b", "objectId": OBJ["name"]},
        "messageId": "42",
    }


def test_finalize_becomes_the_storage_cloud_event() -> None:
    event = to_cloud_event(_message("OBJECT_FINALIZE"))
    assert event is not None
    headers, body = event
    assert headers["ce-type"] == OBJECT_FINALIZED == "google.cloud.storage.object.v1.finalized"
    assert headers["ce-source"] == "//storage.googleapis.com/projects/_/buckets/b"
    # Non-ASCII is percent-encoded, as the CloudEvents HTTP binding requires of header values.
    assert headers["ce-subject"] == "objects/uploads/s/%C3%A9.jpg"
    assert headers["ce-id"] == "42" and headers["ce-specversion"] == "1.0"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == OBJ


def test_other_notifications_are_not_forwarded() -> None:
    assert to_cloud_event(_message("OBJECT_DELETE")) is None
    assert to_cloud_event(_message("OBJECT_METADATA_UPDATE")) is None
