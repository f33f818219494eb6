"""The admin app's HTTP plumbing: JSON bodies in, pictures streamed out, the origins it talks to."""

from __future__ import annotations

import json
import math
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


_LONGEST_NUMBER = 32  # characters: no parameter of this API needs more


def _number(text: str) -> float | int:
    if len(text) > _LONGEST_NUMBER:
        raise Invalid("A number in the request is too long.")
    value = json.loads(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid("Numbers must be finite.")
    return value


def _constant(name: str) -> Any:
    raise Invalid(f"{name} is not a number this API accepts.")


def json_body() -> dict[str, Any]:
    """The request's JSON object; NaN, infinities, overlong numbers and deep nesting are a 400."""
    try:
        raw = flask.request.get_data(cache=True) or b"null"
        data = json.loads(raw, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except RecursionError:
        raise Invalid("The request body is nested too deeply.") from None
    except ValueError:
        data = None
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
