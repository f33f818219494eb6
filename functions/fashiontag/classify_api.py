"""The classify function's API: one image classified on demand, and re-scoring after a promotion.

Kept out of ``main.py`` to stay testable.

- ``POST`` an image as the body (any image content type), or JSON
  ``{"uri": "gs://bucket/name"}``; ``?version=V`` (or ``"version"`` in the JSON) picks a
  registered version instead of the active one. The answer is the JSON of
  ``fashiontag classify``: 200 when classified, 422 when the image was rejected, 400 for a
  malformed request, 404 for an unknown version.
- A Pub/Sub push from ``model-events`` (``model.promoted``) re-scores the products still
  awaiting review with the newly promoted version; ``model.uploaded`` checks a version a
  manager loaded from the models page and registers it, or records why not (``model_check``).
"""

from __future__ import annotations

import logging
from typing import Any

import flask
from google.api_core import exceptions as gexc

from fashiontag import clients, config, contract, images, model_check, pubsub, registry, rescoring, serving
from fashiontag.classification import record, rejected
from fashiontag.errors import Rejection
from fashiontag.inference import CategoryModel

log = logging.getLogger(__name__)


def _bad_request(message: str) -> tuple[dict[str, Any], int]:
    return {"error": message}, 400


def _read_gcs(uri: str) -> bytes:
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket or not name:
        raise ValueError("uri must look like gs://bucket/object")
    blob = clients.storage_client().bucket(bucket).blob(name)
    try:
        data: bytes = blob.download_as_bytes(end=config.limits().max_bytes)
    except gexc.NotFound:
        raise Rejection("upload_missing", f"{uri} does not exist.") from None
    return data


def _model(version: str | None) -> CategoryModel:
    return serving.category_version(version) if version else serving.category_model()


def classify_request(request: flask.Request) -> tuple[dict[str, Any], int]:
    if request.method != "POST":
        return {"error": 'POST an image, or JSON {"uri": "gs://..."}'}, 405
    body = request.get_json(silent=True) if request.mimetype == "application/json" else None
    if isinstance(body, dict) and "message" in body and "subscription" in body:
        return handle_model_event(body)
    version = request.args.get("version") or (body or {}).get("version")
    if version is not None and not contract.valid_version(version):
        return {"error": "No such model version."}, 404
    try:
        model = _model(version)
    except registry.RegistryError as error:
        return {"error": str(error)}, 404
    try:
        if request.mimetype == "application/json":
            uri = (body or {}).get("uri")
            if not isinstance(uri, str):
                return _bad_request('JSON body must be {"uri": "gs://bucket/object"}')
            data = _read_gcs(uri)
        else:
            if (request.content_length or 0) > config.limits().max_bytes:
                raise images.too_large(request.content_length or 0, config.limits())
            data = request.get_data(cache=False)
    except ValueError as error:
        return _bad_request(str(error))
    except Rejection as rejection:
        return rejected(rejection), 422
    answer = record(data, model, serving.attribute_model)
    return answer, 200 if answer["status"] == "ok" else 422


def handle_model_event(envelope: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Pub/Sub push from model-events: re-score after a category promotion, check a loaded
    version, ignore the rest."""
    try:
        event = pubsub.decode(envelope)
    except pubsub.Malformed as error:
        log.error("dropping a malformed model event: %s", error)
        return {"ignored": "malformed"}, 200
    if event.type == contract.MODEL_UPLOADED:
        return {"upload": model_check.handle_upload(str(event.payload.get("upload_id") or ""))}, 200
    if event.type != contract.MODEL_PROMOTED or event.payload.get("model") != config.CATEGORY_MODEL_NAME:
        return {"ignored": event.type}, 200
    model = serving.category_version(str(event.payload["version"]))
    return rescoring.rescore_needs_review(model), 200
