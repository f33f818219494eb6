"""A manager loads a new model version from the models page.

The admin function never opens a model: it checks what it can read as text (the names, the
sizes, model.json against the taxonomy), stages the files under ``staging/`` in the model
bucket, records the upload in ``model_uploads/{id}`` (status ``checking``) and announces
``model.uploaded``; the classify function runs the model and registers it or records why not
(``fashiontag.model_check``, docs/decisions/0016). Nothing is registered before that check.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from google.cloud import firestore

from fashiontag import clients, config, contract, events, registry
from fashiontag.admin.errors import Conflict, Invalid
from fashiontag.admin.identity import Principal

# The largest file the page may send: LiteRT files of this project are well under a megabyte.
MAX_BYTES = {"model.tflite": 20_000_000, "model.json": 64_000, "model_card.md": 256_000}
REQUIRED = ("model.tflite", "model.json")
MAX_REQUEST_BYTES = sum(MAX_BYTES.values()) + 64_000


def stage(principal: Principal, name: str, version: Any, files: dict[str, bytes]) -> str:
    """Stage the files of ``name`` ``version`` for the check; returns the upload's id."""
    if name != config.CATEGORY_MODEL_NAME:
        raise Invalid(f"Only {config.CATEGORY_MODEL_NAME} versions can be loaded from the page.")
    if not contract.valid_version(version):
        raise Invalid("The version must be letters, digits, '.', '_' or '-' (at most 64).")
    missing = [f for f in REQUIRED if not files.get(f)]
    if missing:
        raise Invalid(f"Choose {' and '.join(missing)}.")
    too_big = [f"{f} is over {MAX_BYTES[f] / 1e6:g} MB" for f, data in files.items() if len(data) > MAX_BYTES[f]]
    if too_big:
        raise Invalid("The files are too large.", too_big)
    try:
        meta = json.loads(files["model.json"])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Invalid("model.json is not a JSON document.") from None
    if not isinstance(meta, dict) or meta.get("name") != name or meta.get("version") != version:
        raise Invalid(f'model.json must say "name": "{name}" and "version": "{version}".')
    if registry.get_version(name, version):
        raise Conflict(f"{name} {version} is registered already; choose another version.")
    upload_id = uuid.uuid4().hex
    prefix = f"{contract.STAGING_PREFIX}{name}/{upload_id}/"
    bucket = clients.storage_client().bucket(config.model_bucket())
    for file_name, data in files.items():
        bucket.blob(prefix + file_name).upload_from_string(data)
    clients.firestore_client().collection(contract.MODEL_UPLOADS).document(upload_id).create(
        {
            "name": name,
            "version": version,
            "status": contract.UPLOAD_CHECKING,
            "files": sorted(files),
            "staged_prefix": prefix,
            "by": principal.email or principal.uid,
            "created_at": firestore.SERVER_TIMESTAMP,
        }
    )
    events.publish(contract.TOPIC_MODEL_EVENTS, contract.MODEL_UPLOADED, upload_id, {"upload_id": upload_id})
    return upload_id


def recent(limit: int = 10) -> list[dict[str, Any]]:
    query = (
        clients.firestore_client()
        .collection(contract.MODEL_UPLOADS)
        .order_by("created_at", direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    return [{"id": snap.id, **(snap.to_dict() or {})} for snap in query.stream()]
