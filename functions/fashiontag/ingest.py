"""An upload in the bucket becomes a classified (or rejected) product, exactly once.

``handle_finalized`` is what on_upload calls for each ``object.v1.finalized`` CloudEvent.
It is idempotent: any number of deliveries of one object generation, also concurrent, leave
one product and one published event (see ``products`` for the lease that makes that so).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from PIL import Image

from fashiontag import clients, config, contract, events, images, products, serving
from fashiontag.classification import Classified, classify_bytes
from fashiontag.errors import Rejection, RetryLater
from fashiontag.inference import CategoryModel

log = logging.getLogger(__name__)

# How long a duplicate delivery waits for the one doing the work before asking for a retry.
_WAIT_FOR_OWNER_S = 10.0
THUMBNAIL_SIDE = 256
# Unexpected errors while decoding one file are retried this often, then it is rejected.
_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class StorageObject:
    bucket: str
    name: str
    generation: str
    content_type: str
    size: int
    # The upload batch its custom metadata names (admin.upload_sessions); None for uploads by
    # other tools, and for anything malformed.
    batch: contract.UploadBatch | None = None

    @classmethod
    def from_event_data(cls, data: dict[str, Any]) -> StorageObject:
        return cls(
            bucket=str(data["bucket"]),
            name=str(data["name"]),
            generation=str(data.get("generation", "")),
            content_type=str(data.get("contentType", "")),
            size=int(data.get("size") or 0),
            batch=contract.batch_from_metadata(data.get("metadata")),
        )


def handle_finalized(obj: StorageObject) -> str:
    """Process one finalized object; returns what happened (for logs and tests)."""
    seller_id = contract.seller_of(obj.name)
    if seller_id is None:
        log.info("ignored %s: not under %s", obj.name, contract.UPLOAD_PREFIX)
        return "ignored"
    product_id = contract.product_id(obj.bucket, obj.name, obj.generation)
    owner = uuid.uuid4().hex
    initial = {
        "seller_id": seller_id,
        "image": {
            "bucket": obj.bucket,
            "name": obj.name,
            "generation": obj.generation,
            "content_type": obj.content_type,
            "bytes": obj.size,
        },
    }
    if obj.batch is not None:
        initial["batch"] = obj.batch.as_dict()  # from the event: no call of its own
    deadline = time.monotonic() + _WAIT_FOR_OWNER_S
    while True:
        claim = products.claim(product_id, initial, owner)
        if claim.state is products.ClaimState.DONE:
            return "duplicate"
        if claim.state is products.ClaimState.OWNED:
            break
        if time.monotonic() > deadline:
            raise RetryLater(f"product {product_id} is being processed by another delivery")
        time.sleep(0.2)

    try:
        doc, fields = claim.doc, {}
        if doc.get("status", contract.RECEIVED) == contract.RECEIVED:
            fields = _outcome(product_id, obj, doc)
            doc = {**doc, **fields}
        # Publish first, then write the outcome and the event record in one transaction: a crash
        # in between re-publishes the same event_id on retry, which consumers drop.
        event = _publish(seller_id, product_id, obj, doc)
        if not products.complete(product_id, owner, claim, fields, event):
            raise RetryLater(f"lost the lease on {product_id}")
    except BaseException:
        _release_quietly(product_id, owner)
        raise
    return str(doc["status"])


def _outcome(product_id: str, obj: StorageObject, doc: dict[str, Any]) -> dict[str, Any]:
    """The fields a classified or rejected product gets (not yet written)."""
    started = time.perf_counter()
    model = serving.category_model()  # outside the try: a registry outage is no fault of the file
    try:
        data = _download(obj)
        result = _classify(data, model, int(doc.get("attempts", 1)))
    except Rejection as rejection:
        log.info("rejected %s: %s", obj.name, rejection)
        _start_retention(obj)
        fields: dict[str, Any] = {
            "status": contract.REJECTED,
            "rejection": rejection.as_dict(),
        }
    else:
        derived = _write_derived(product_id, result)
        fields = _classified_fields(result, derived, data, (time.perf_counter() - started) * 1000)
    return fields


def _start_retention(obj: StorageObject) -> None:
    """Set the rejected upload's customTime: the bucket's lifecycle rule deletes it that many
    days later (infra/storage.tf), while classified uploads, which never get one, stay."""
    blob = clients.storage_client().bucket(obj.bucket).blob(obj.name)
    blob.custom_time = dt.datetime.now(dt.UTC)
    # Only the generation this event is about: a seller's re-upload under the same name is
    # another product. Deleted or replaced meanwhile: nothing of this upload is left to delete.
    with contextlib.suppress(gexc.NotFound, gexc.PreconditionFailed):
        blob.patch(if_generation_match=int(obj.generation or 0) or None)


def _classify(data: bytes, model: CategoryModel, attempt: int) -> Classified:
    try:
        return classify_bytes(data, model, serving.attribute_model)
    except Rejection:
        raise
    except Exception:
        if attempt < _MAX_ATTEMPTS:
            raise
        # A file that crashes the decoder on every attempt must still end in a terminal state.
        log.exception("giving up on an upload after %d attempts", attempt)
        raise Rejection(
            "processing_failed",
            "We could not process this photo. Please export it again as JPEG or PNG and re-upload.",
        ) from None


def _download(obj: StorageObject) -> bytes:
    limits = config.limits()
    if obj.size > limits.max_bytes:
        # Checked from the event before fetching a byte of a file we would refuse anyway.
        raise images.too_large(obj.size, limits)
    if obj.size == 0:
        return b""  # a ranged read of an empty object is refused (416); decode rejects it
    blob = clients.storage_client().bucket(obj.bucket).blob(obj.name, generation=int(obj.generation or 0) or None)
    try:
        data: bytes = blob.download_as_bytes(end=limits.max_bytes)
    except gexc.RequestRangeNotSatisfiable:
        return b""
    except gexc.NotFound:
        raise Rejection("upload_missing", "The file was deleted or replaced before it could be processed.") from None
    return data


def _write_derived(product_id: str, result: Classified) -> dict[str, str]:
    bucket = clients.storage_client().bucket(config.upload_bucket())
    prefix = contract.derived_folder(product_id)
    outputs = {
        "input": (f"{prefix}input.png", _png(Image.fromarray(result.model_input, "RGB")), "image/png"),
        "thumbnail": (f"{prefix}thumbnail.jpg", _thumbnail(result), "image/jpeg"),
    }
    for name, data, content_type in outputs.values():
        bucket.blob(name).upload_from_string(data, content_type=content_type)
    return {key: path for key, (path, _, _) in outputs.items()}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _thumbnail(result: Classified) -> bytes:
    img = Image.fromarray(result.photo.rgb, "RGB")
    img.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _classified_fields(result: Classified, derived: dict[str, str], data: bytes, latency_ms: float) -> dict[str, Any]:
    category = result.category
    return {
        "status": category.status,
        "review_reason": category.review_reason(),
        "image.width": result.photo.width,
        "image.height": result.photo.height,
        "image.format": result.photo.format,
        "image.sha256": hashlib.sha256(data).hexdigest(),
        "derived": derived,
        "prediction": {
            "category": category.category_dict(),
            "attributes": result.attributes,
            "colours": result.colours,
            "model": category.model_dict(),
            "latency_ms": round(latency_ms, 2),
            "at": firestore.SERVER_TIMESTAMP,
        },
        "spec": {
            "category": category.label,
            # Only what a trained head predicted; an untrained family stays open for the manager.
            "attributes": {f: a["label"] for f, a in result.attributes.items() if "label" in a},
            "colours": [c["name"] for c in result.colours],
            "source": "prediction",
        },
    }


def _publish(seller_id: str, product_id: str, obj: StorageObject, doc: dict[str, Any]) -> dict[str, Any]:
    status = doc["status"]
    event_type = contract.PRODUCT_REJECTED if status == contract.REJECTED else contract.PRODUCT_CLASSIFIED
    event_id = f"{event_type}:{product_id}"
    payload: dict[str, Any] = {
        "product_id": product_id,
        "seller_id": seller_id,
        "status": status,
        "image": {"bucket": obj.bucket, "name": obj.name},
    }
    # The product's own record: a delivery that takes over from another may lack the metadata.
    if batch := contract.upload_batch(doc.get("batch")):
        payload["batch"] = batch.as_dict()
    if status == contract.REJECTED:
        payload["rejection"] = doc.get("rejection")
    else:
        category = doc["prediction"]["category"]
        payload["category"] = {"label": category["label"], "confidence": category["confidence"]}
    message_id = events.publish(contract.TOPIC_PRODUCT_EVENTS, event_type, event_id, payload)
    return {"type": event_type, "id": event_id, "message_id": message_id}


def _release_quietly(product_id: str, owner: str) -> None:
    try:
        products.release(product_id, owner)
    except Exception:  # the lease expires by itself; the original error matters more
        log.warning("could not release the lease on %s", product_id, exc_info=True)
