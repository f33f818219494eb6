"""Try a model: one image classified by a chosen category version, for a manager at the page.

The admin function loads no model (its instances stay small and start fast): it asks the
classify function, which loads the version as on-demand classification does and answers what
``fashiontag classify`` answers. In the cloud the request carries an ID token of the admin
function's service account, which ``infra/functions.yaml`` makes an invoker of classify; on the
local stack classify takes any caller, as the emulators do.
"""

from __future__ import annotations

import json
import os
from typing import Any

import requests

from fashiontag import config, contract
from fashiontag.admin import access
from fashiontag.admin.errors import Invalid, NotFound, Unavailable
from fashiontag.admin.identity import Principal

# Classify loads the version on its first use in an instance: a cold one takes a few seconds.
TIMEOUT_S = 50


def _headers(audience: str) -> dict[str, str]:
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return {}
    # Imported here: only the cloud path needs the metadata server's token.
    import google.auth.transport.requests
    import google.oauth2.id_token

    token = google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)
    return {"Authorization": f"Bearer {token}"}


def _ask_classify(version: str | None, content_type: str, data: bytes) -> dict[str, Any]:
    url = config.classify_url()
    params = {"version": version} if version else {}
    headers = {"Content-Type": content_type, **_headers(url)}
    try:
        response = requests.post(url, params=params, data=data, headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException:
        raise Unavailable("The classify function did not answer; try again in a minute.") from None
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {}
    if response.status_code == 404:
        raise NotFound(body.get("error") or "No such model version.")
    if response.status_code == 400:
        raise Invalid(body.get("error") or "The classify function refused the request.")
    if response.status_code not in (200, 422) or "status" not in body:
        raise Unavailable(f"The classify function answered {response.status_code}; try again in a minute.")
    return body  # 422: the image was rejected, and the answer says why


def try_version(
    principal: Principal, version: str | None, image: bytes | None, content_type: str, product_id: str | None
) -> dict[str, Any]:
    """Classify an uploaded image, or an existing product's photo, with ``version`` (the active one if None)."""
    version = (version or "").strip() or None
    if version is not None and not contract.valid_version(version):
        raise NotFound("No such model version.")
    if (image is None) == (not product_id):
        raise Invalid("Choose either a photo or a product, not both.")
    if image is not None:
        if not image:
            raise Invalid("The photo is empty.")
        if len(image) > config.limits().max_bytes:
            raise Invalid(f"The photo is larger than {config.limits().max_bytes // 1_000_000} MB.")
        # Classify reads the image from the body whatever its type; only JSON means a reference.
        if content_type.split(";")[0].strip().lower() in ("", "application/json"):
            content_type = "application/octet-stream"
        answer = _ask_classify(version, content_type, image)
    else:
        assert product_id
        product = access.visible_product(principal, product_id)
        image_ref = product.get("image") or {}
        if not image_ref.get("name"):
            raise NotFound("This product has no photo.")
        uri = f"gs://{image_ref.get('bucket') or config.upload_bucket()}/{image_ref['name']}"
        reference = json.dumps({"uri": uri}).encode()
        answer = _ask_classify(version, "application/json", reference)
    return {"version": version or (answer.get("model") or {}).get("version"), "server": answer}
