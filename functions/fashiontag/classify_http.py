"""The classify HTTP function's request handling, kept out of ``main.py`` to stay testable.

``POST`` an image as the body (any image content type), or JSON ``{"uri": "gs://bucket/name"}``.
The answer is the JSON of ``fashiontag classify``: 200 when classified, 422 when the image
was rejected (with the rejection's code and message), 400 for a malformed request.
"""

from __future__ import annotations

from typing import Any

import flask
from google.api_core import exceptions as gexc

from fashiontag import clients, config, images
from fashiontag.classification import record, rejected
from fashiontag.errors import Rejection


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


def classify_request(request: flask.Request) -> tuple[dict[str, Any], int]:
    if request.method != "POST":
        return {"error": 'POST an image, or JSON {"uri": "gs://..."}'}, 405
    try:
        if request.mimetype == "application/json":
            uri = (request.get_json(silent=True) or {}).get("uri")
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
    answer = record(data)
    return answer, 200 if answer["status"] == "ok" else 422
