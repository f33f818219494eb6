"""CloudEvents for the real entry points, built with the ``cloudevents`` SDK as Eventarc sends them.

``request(event)`` gives the keyword arguments of a functions-framework test client's ``post``
in binary content mode (``ce-*`` headers, the data as the body), the mode Eventarc uses.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

from fashiontag import config
from fashiontag.contract import MESSAGE_PUBLISHED, OBJECT_FINALIZED

TIME = "2026-11-30T00:00:00Z"


def request(event: CloudEvent) -> dict[str, Any]:
    """``client.post("/", **request(event))``: the event in binary content mode."""
    headers, body = to_binary(event)
    return {"headers": headers, "data": body}


def storage_finalized(
    name: str,
    generation: str,
    event_type: str = OBJECT_FINALIZED,
    bucket: str | None = None,
    metadata: dict[str, str] | None = None,
) -> CloudEvent:
    """Eventarc's ``object.v1.finalized`` for one generation of an object in the upload bucket
    (with the object's custom ``metadata``, when it has some)."""
    bucket = bucket or config.upload_bucket()
    attributes = {
        "id": f"{name}#{generation}",
        "type": event_type,
        "source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        "subject": f"objects/{name}",
        "time": TIME,
        "datacontenttype": "application/json",
    }
    data: dict[str, Any] = {
        "bucket": bucket,
        "name": name,
        "generation": generation,
        "contentType": "image/jpeg",
        "size": "1000",
    }
    if metadata:
        data["metadata"] = metadata
    return CloudEvent(attributes, data)


def pubsub_message(
    body: dict[str, Any] | bytes,
    topic: str,
    subscription: str,
    attributes: dict[str, str] | None = None,
    message_id: str | None = None,
) -> CloudEvent:
    """The ``messagePublished`` CloudEvent functions-framework makes of a Pub/Sub push."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    message_id = message_id or str(uuid.uuid4().int % 10**16)
    project = config.project()
    message: dict[str, Any] = {"data": base64.b64encode(raw).decode(), "messageId": message_id, "publishTime": TIME}
    if attributes is not None:
        message["attributes"] = attributes
    return CloudEvent(
        {
            "id": message_id,
            "type": MESSAGE_PUBLISHED,
            "source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic}",
            "time": TIME,
            "datacontenttype": "application/json",
        },
        {"message": message, "subscription": f"projects/{project}/subscriptions/{subscription}"},
    )
