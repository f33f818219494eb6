"""notify: Pub/Sub (product-events, model-events, message-events) -> notifications and pushes."""

from __future__ import annotations

import logging

import functions_framework
from cloudevents.http import CloudEvent

from fashiontag.contract import MESSAGE_PUBLISHED
from fashiontag.notifications import handle_message

logging.basicConfig(level=logging.INFO)


@functions_framework.cloud_event
def notify(event: CloudEvent) -> None:
    if event["type"] != MESSAGE_PUBLISHED:
        logging.warning("notify: ignoring event type %s", event["type"])
        return
    handle_message(event.data)
