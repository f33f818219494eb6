"""on_upload: Cloud Storage ``object.v1.finalized`` -> a classified or rejected product."""

from __future__ import annotations

import logging

import functions_framework
from cloudevents.http import CloudEvent

from fashiontag.ingest import StorageObject, handle_finalized

logging.basicConfig(level=logging.INFO)
FINALIZED = "google.cloud.storage.object.v1.finalized"


@functions_framework.cloud_event
def on_upload(event: CloudEvent) -> None:
    if event["type"] != FINALIZED:
        logging.warning("on_upload: ignoring event type %s", event["type"])
        return
    handle_finalized(StorageObject.from_event_data(event.data))
