"""The admin app's HTTP plumbing: JSON bodies in, pictures streamed out, the origins it talks to."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import flask
from google.api_core import exceptions as gexc

from fashiontag import clients, config
from fashiontag.admin.errors import Invalid, NotFound

IMAGE_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
_CHUNK = 64 * 1024


def json_body() -> dict[str, Any]:
    data = flask.request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object.")
    return data


def origins() -> dict[str, str]:
    """Where the browser signs in and uploads: the emulators locally, Google's APIs otherwise."""
    emulator = config.auth_emulator_host()
    if emulator:
        base = f"http://{emulator}"
        auth_url, token_url = f"{base}/identitytoolkit.googleapis.com", f"{base}/securetoken.googleapis.com"
    else:
        auth_url, token_url = "https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com"
    storage = os.environ.get("STORAGE_EMULATOR_HOST", "").strip().rstrip("/") or "https://storage.googleapis.com"
    return {"auth": auth_url, "token": token_url, "storage": storage}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def stream_object(name: str, generation: int | None, content_type: str, download: bool = False) -> flask.Response:
    bucket = clients.storage_client().bucket(config.upload_bucket())
    blob = bucket.blob(name, generation=generation)
    try:
        reader = blob.open("rb", chunk_size=256 * 1024)
        first = reader.read(_CHUNK)
    except gexc.NotFound:
        raise NotFound("The picture is no longer there.") from None

    def chunks() -> Iterator[bytes]:
        try:
            chunk = first
            while chunk:
                yield chunk
                chunk = reader.read(_CHUNK)
        finally:
            reader.close()

    headers = {"Cache-Control": "private, max-age=300"}
    if download:
        headers["Content-Disposition"] = "attachment"
    return flask.Response(chunks(), content_type=content_type, headers=headers)
