"""Publishing domain events on Pub/Sub: JSON with a ``type``, the same ``type`` as attribute.

Every message also carries an ``event_id`` attribute derived from what caused it, so a
consumer can drop the duplicates that at-least-once delivery brings.
"""

from __future__ import annotations

import json
from typing import Any

from fashiontag import clients, config


def publish(topic: str, event_type: str, event_id: str, payload: dict[str, Any]) -> str:
    """Publish and wait for the server's acknowledgement; returns the message id."""
    body = {"type": event_type, "event_id": event_id, **payload}
    path = clients.publisher().topic_path(config.project(), topic)
    future = clients.publisher().publish(
        path,
        json.dumps(body, default=str).encode(),
        type=event_type,
        event_id=event_id,
    )
    return str(future.result(timeout=30))


def republish(topic: str, data: bytes, attributes: dict[str, str]) -> str:
    """Publish a message again as it was (a replayed dead letter); consumers drop it by its
    ``event_id`` if it had arrived after all."""
    path = clients.publisher().topic_path(config.project(), topic)
    return str(clients.publisher().publish(path, data, **attributes).result(timeout=30))
