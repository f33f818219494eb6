"""retrain: ``retrain-requests`` -> one recorded run and its job; ``product-events`` -> the label trigger."""

from __future__ import annotations

import logging

import functions_framework
from cloudevents.http import CloudEvent

from fashiontag.contract import MESSAGE_PUBLISHED
from fashiontag.retraining import handle_push

logging.basicConfig(level=logging.INFO)


@functions_framework.cloud_event
def retrain(event: CloudEvent) -> None:
    if event["type"] != MESSAGE_PUBLISHED:
        logging.warning("retrain: ignoring event type %s", event["type"])
        return
    handle_push(event.data, fallback_id=str(event["id"]))
