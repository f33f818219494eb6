"""Bucket notifications (Pub/Sub push from fake-gcs-server) -> Eventarc's storage CloudEvent.

In the cloud Eventarc delivers ``google.cloud.storage.object.v1.finalized`` to on_upload.
Locally fake-gcs-server publishes a Cloud Storage notification to Pub/Sub; this bridge turns
each push into the same CloudEvent (binary content mode, object JSON as data) and answers
with the function's own status, so a failure is retried by Pub/Sub and ends in its
dead-letter topic like in production.
"""

from __future__ import annotations

import base64
import json
import os
import string
from typing import Any
from urllib.parse import quote

import flask
import functions_framework
import requests

from fashiontag.contract import OBJECT_FINALIZED

# The CloudEvents HTTP binding percent-encodes header values outside printable ASCII (and % and ").
_HEADER_SAFE = "".join(c for c in string.printable if c not in '%"\t\n\r\x0b\x0c')
_session = requests.Session()


def to_cloud_event(message: dict[str, Any]) -> tuple[dict[str, str], bytes] | None:
    """Headers and body of the CloudEvent for one notification; None if it is no finalize."""
    attributes = message.get("attributes", {})
    if attributes.get("eventType") != "OBJECT_FINALIZE":
        return None
    data = base64.b64decode(message.get("data", ""))
    obj = json.loads(data)
    headers = {
        "ce-specversion": "1.0",
        "ce-id": str(message.get("messageId") or message.get("message_id")),
        "ce-type": OBJECT_FINALIZED,
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{obj['bucket']}",
        "ce-subject": quote(f"objects/{obj['name']}", safe=_HEADER_SAFE),
        "ce-time": str(obj.get("updated") or obj.get("timeCreated") or message.get("publishTime")),
        "content-type": "application/json",
    }
    return headers, json.dumps(obj).encode()


@functions_framework.http
def storage_bridge(request: flask.Request) -> tuple[str, int]:
    envelope = request.get_json(silent=True) or {}
    event = to_cloud_event(envelope.get("message", {}))
    if event is None:
        return "", 204
    headers, body = event
    try:
        response = _session.post(os.environ["BRIDGE_TARGET_URL"], data=body, headers=headers, timeout=120)
    except requests.RequestException as error:
        return f"on_upload unreachable: {error}", 503
    # Pub/Sub push treats 102, 200, 201, 202 and 204 as an ack; anything else is retried.
    return "", 204 if response.ok else 500
