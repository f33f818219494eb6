"""retrain: Pub/Sub ``retrain-requests`` -> one recorded run and its training job."""

from __future__ import annotations

import base64
import json
import logging

import functions_framework
from cloudevents.http import CloudEvent

from fashiontag.retraining import handle_request

logging.basicConfig(level=logging.INFO)
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


@functions_framework.cloud_event
def retrain(event: CloudEvent) -> None:
    if event["type"] != PUBLISHED:
        logging.warning("retrain: ignoring event type %s", event["type"])
        return
    message = event.data.get("message", {})
    try:
        body = json.loads(base64.b64decode(message.get("data", "")) or b"{}")
    except (ValueError, TypeError):
        logging.error("retrain: dropping a message that is not JSON (id %s)", message.get("messageId"))
        return  # a poison message must not be retried forever
    if not isinstance(body, dict) or body.get("type", "retrain.requested") != "retrain.requested":
        logging.warning("retrain: ignoring %r", body if not isinstance(body, dict) else body.get("type"))
        return
    handle_request(body, str(message.get("messageId") or message.get("message_id") or event["id"]))
