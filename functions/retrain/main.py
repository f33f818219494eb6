"""retrain: ``retrain-requests`` -> one recorded run and its job; ``product-events`` -> the label trigger."""

from __future__ import annotations

import base64
import json
import logging

import functions_framework
from cloudevents.http import CloudEvent

from fashiontag.retraining import handle_request, on_product_event

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
    if not isinstance(body, dict):
        logging.warning("retrain: ignoring %r", body)
        return
    kind = str(body.get("type", "retrain.requested"))
    if kind.startswith("product."):
        on_product_event(body)  # product-events: the automatic trigger on new labels
    elif kind == "retrain.requested":
        handle_request(body, str(message.get("messageId") or message.get("message_id") or event["id"]))
    else:
        logging.warning("retrain: ignoring %s", kind)
