"""Sellers upload photos straight to the bucket through resumable upload sessions.

The admin function, which holds the storage credentials, opens one session per file for the
object ``uploads/{seller uid}/{safe file name}-{token}.{ext}`` (a name no other upload has)
with the content type and size fixed at initiation and ifGenerationMatch=0, so the session can
only create that object, never replace one, and hands the browser only the session URL: a
capability for that one object.
The browser PUTs the file to it (with progress). See docs/decisions/0007 for what the cloud
enforces and what the local fake-gcs-server does not.

The files of one request are one batch: each session's object gets the custom metadata
``batch`` (an id new for the request) and ``batch_size`` (how many files it has), set at
initiation like the content type, so the storage event carries them to on_upload and the seller
hears of the batch in one notification (fashiontag.notices). Files that failed and are sent
again name their batch (``again``) so that they complete it.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from pathlib import PurePosixPath
from typing import Any

from fashiontag import clients, config, contract
from fashiontag.admin import identity, limits
from fashiontag.admin.errors import Invalid
from fashiontag.admin.identity import Principal
from fashiontag.contract import SELLER

# What the pipeline decodes (images.decode sniffs the bytes again; this is the first gate).
CONTENT_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
}
MAX_FILES = contract.MAX_BATCH_SIZE  # one request is one batch
MAX_NAME = 100
_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)


def safe_name(name: str, content_type: str) -> str:
    """A file name that stays inside the seller's folder: no path, no control characters."""
    base = PurePosixPath(unicodedata.normalize("NFC", name).replace("\\", "/")).name
    cleaned = _UNSAFE.sub("-", base).strip(".-_") or "photo"
    stem, dot, ext = cleaned.rpartition(".")
    if not dot:
        stem, ext = cleaned, CONTENT_TYPES[content_type].lstrip(".")
    stem = stem[: MAX_NAME - len(ext) - 1].rstrip(".-_") or "photo"
    return f"{stem}.{ext.lower()}"


def object_name(principal: Principal, file_name: str) -> str:
    if not contract.valid_id(principal.uid):
        raise Invalid("This account's id cannot be used as a folder name.")
    return contract.unique_upload_name(principal.uid, file_name)


def _checked(item: Any, max_bytes: int) -> tuple[str, str, int]:
    if not isinstance(item, dict):
        raise Invalid("each file must be {name, size, content_type}")
    name, content_type, size = item.get("name"), item.get("content_type"), item.get("size")
    label = str(name)[:80] if isinstance(name, str) else "a file"
    if not isinstance(name, str) or not name.strip():
        raise Invalid("each file needs its name")
    if content_type not in CONTENT_TYPES:
        raise Invalid(f"{label}: only photos can be uploaded (JPEG, PNG, WebP, GIF, BMP or TIFF).")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise Invalid(f"{label}: the file is empty or its size is unknown.")
    if size > max_bytes:
        raise Invalid(f"{label}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit.")
    return name, content_type, size


def create_sessions(principal: Principal, files: Any, origin: str | None, again: Any = None) -> list[dict[str, Any]]:
    """One resumable upload session per file, in the caller's own folder."""
    identity.require(principal, SELLER)
    if not isinstance(files, list) or not files:
        raise Invalid("Choose at least one photo.")
    if len(files) > MAX_FILES:
        raise Invalid(f"At most {MAX_FILES} photos at once.")
    limit = config.limits().max_bytes
    checked = [_checked(item, limit) for item in files]  # refuse the whole batch before any session
    limits.spend(principal, "upload_session")
    bucket = clients.storage_client().bucket(config.upload_bucket())
    if again is None:
        batch_id, batch_size = uuid.uuid4().hex, len(checked)
    else:
        # The files of a batch that failed, sent again: they complete that batch, not a new one.
        resumed = contract.upload_batch(again)
        if resumed is None or len(checked) > resumed.size:
            raise Invalid("batch must be the {id, size} of the earlier request whose files are sent again")
        batch_id, batch_size = resumed.id, resumed.size
    batch = {contract.BATCH_METADATA_ID: batch_id, contract.BATCH_METADATA_SIZE: str(batch_size)}
    sessions = []
    for name, content_type, size in checked:
        target = object_name(principal, safe_name(name, content_type))
        blob = bucket.blob(target)
        blob.metadata = batch  # sent with the session's initiation: the object is created with it
        url = blob.create_resumable_upload_session(
            content_type=content_type, size=size, origin=origin, if_generation_match=0
        )
        sessions.append(
            {
                "file": name,
                "object": target,
                "content_type": content_type,
                "size": size,
                "session_url": url,
                "batch": {"id": batch_id, "size": batch_size},
            }
        )
    return sessions
