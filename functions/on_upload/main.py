"""on_upload: Cloud Storage ``object.v1.finalized`` -> a classified or rejected product."""

from __future__ import annotations

import logging

import functions_framework
from cloudevents.http import CloudEvent

from fashiontag.contract import OBJECT_FINALIZED
from fashiontag.ingest import StorageObject, handle_finalized

logging.basicConfig(level=logging.INFO)


@functions_framework.cloud_event
def on_upload(event: CloudEvent) -> None:
    if event["type"] != OBJECT_FINALIZED:
        logging.warning("on_upload: ignoring event type %s", event["type"])
        return
    handle_finalized(StorageObject.from_event_data(event.data))
