"""Pub/Sub push messages in: the one decoder every function behind a push subscription uses.

A push delivers ``{"message": {"data": base64 JSON, "attributes": {...}, "messageId": ...},
"subscription": ...}``, either as the data of a ``messagePublished`` CloudEvent (notify,
retrain) or as a plain HTTP body (classify). ``decode`` turns it into an ``Event`` or raises
``Malformed``: a message that can never be handled, which the caller logs and acknowledges
(retrying it would only fail again). This module imports nothing outside the standard library.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any


class Malformed(ValueError):
    """A message no delivery can ever handle: acknowledged, never retried."""


@dataclasses.dataclass(frozen=True)
class Event:
    """One domain event as published by ``fashiontag.events.publish``."""

    type: str
    event_id: str
    payload: dict[str, Any]  # the JSON body without ``type`` and ``event_id``
    # Pub/Sub's own id of the message that carried it: one per publication, shared by redeliveries.
    message_id: str = dataclasses.field(default="", compare=False)

    def field(self, name: str) -> str:
        """A required, non-empty string field of the payload."""
        value = self.payload.get(name)
        if not isinstance(value, str) or not value:
            raise Malformed(f"{self.type} {self.event_id}: field {name!r} missing or not a string")
        return value

    def recipient(self, name: str) -> str:
        """A uid or "role:NAME" field; it must be usable as a Firestore document id."""
        value = self.field(name)
        if "/" in value or value in (".", "..") or len(value) > 128 or value.startswith("__"):
            raise Malformed(f"{self.type} {self.event_id}: {name} {value[:40]!r} is no user id")
        return value


def decode(envelope: Any, *, default_type: str | None = None, fallback_id: str = "") -> Event:
    """The event inside a push body ``{"message": {...}}``.

    ``default_type`` is the type of a message that names none (an empty message included): the
    retrain-requests topic carries only requests. ``fallback_id`` stands in for a message id the
    envelope lacks (the CloudEvent's id, which functions-framework takes from it anyway).
    """
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise Malformed("no Pub/Sub message in the event")
    message_id = str(message.get("messageId") or message.get("message_id") or fallback_id)
    raw = message.get("data") or ""
    try:
        body = json.loads(base64.b64decode(raw, validate=True)) if raw or default_type is None else {}
    except (TypeError, ValueError) as error:  # binascii, JSON and Unicode errors are ValueErrors
        raise Malformed(f"message {message_id}: data is not base64 JSON ({error})") from None
    if not isinstance(body, dict):
        raise Malformed(f"message {message_id}: data is not a JSON object")
    attributes = message.get("attributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    event_type = body.get("type") or attributes.get("type") or default_type
    if not isinstance(event_type, str) or not event_type:
        raise Malformed(f"message {message_id}: no event type")
    # Publishers set event_id; a message without one is still deduplicated per Pub/Sub message,
    # which covers redelivery though not a second publication.
    event_id = body.get("event_id") or attributes.get("event_id")
    if not event_id and message_id:
        event_id = f"pubsub:{message_id}"
    if not isinstance(event_id, str) or not event_id:
        raise Malformed(f"{event_type}: no event_id and no messageId")
    payload = {k: v for k, v in body.items() if k not in ("type", "event_id")}
    return Event(type=event_type, event_id=event_id, payload=payload, message_id=message_id)
