"""The names and rules of the data contract (DESIGN.md section 3), in one place.

Collections, statuses, roles, topics, event types, how deterministic ids are derived and how
storage paths are built: every module, test and script that writes or reads them imports them
from here, so a change to the contract is a change to this file. Settings (what may differ
between the emulators and the cloud) stay in ``config``. This module imports nothing of
fashiontag and nothing outside the standard library, so every function bundle may use it
(docs/decisions/0011).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from typing import TypeGuard

# --- Firestore collections -------------------------------------------------------------------

PRODUCTS = "products"
# The field the review queue orders by: how sure the model was of the category.
CONFIDENCE_FIELD = "prediction.category.confidence"
# catalogue/{product_id}: what buyers may read of a published product (fashiontag.admin.catalogue)
CATALOGUE = "catalogue"
HISTORY = "history"  # products/{id}/history/{n}: the edit history of a product
MODELS = "models"
RETRAIN_RUNS = "retrain_runs"
NOTIFICATIONS = "notifications"
# notifications/{id}/reads/{uid}: one person's read mark on a notification addressed to a role
READS = "reads"
MESSAGES = "messages"
USERS = "users"
# push_outbox/{notification_id}: the record of one push, written once whatever the push mode.
PUSH_OUTBOX = "push_outbox"
# dead_letters/{id}: a message that ended in a dead-letter topic, until it is replayed
DEAD_LETTERS = "dead_letters"
# reconciler/cursor: the upload name the reconciler's next run lists from
RECONCILER = "reconciler"
# model_uploads/{id}: a model version a manager loaded from the page, and the check's verdict
MODEL_UPLOADS = "model_uploads"
UPLOAD_CHECKING, UPLOAD_REGISTERED, UPLOAD_REFUSED = "checking", "registered", "refused"
# rate_limits/{kind}:{uid}: how many of a kind a user created in the current window (admin.limits)
RATE_LIMITS = "rate_limits"

# --- product statuses ------------------------------------------------------------------------

# Every upload ends in one of the last five; nothing stays "received".
RECEIVED = "received"
NEEDS_REVIEW = "needs_review"
AUTO_ACCEPTED = "auto_accepted"
VERIFIED = "verified"
PUBLISHED = "published"
REJECTED = "rejected"
STATUSES = (RECEIVED, NEEDS_REVIEW, AUTO_ACCEPTED, VERIFIED, PUBLISHED, REJECTED)


def status_for(confidence: float, threshold: float, garment_found: bool = True) -> str:
    """The auto-accept rule: a category at least as confident as its model version's threshold,
    about a garment the model found in the photo, needs no manager; anything less waits."""
    return AUTO_ACCEPTED if garment_found and confidence >= threshold else NEEDS_REVIEW


# --- roles (Firebase Auth custom claims) -----------------------------------------------------

MANAGER, SELLER, BUYER = "manager", "seller", "buyer"
ROLES = (MANAGER, SELLER, BUYER)
# A recipient is a uid or "role:NAME", meaning everyone holding that role.
ROLE_PREFIX = "role:"


def role_recipient(role: str) -> str:
    """The recipient that means every holder of ``role``: ``role:manager``."""
    return f"{ROLE_PREFIX}{role}"


MANAGERS = role_recipient(MANAGER)

# --- Pub/Sub topics and event types ----------------------------------------------------------

TOPIC_PRODUCT_EVENTS = "product-events"
TOPIC_MODEL_EVENTS = "model-events"
TOPIC_MESSAGE_EVENTS = "message-events"
TOPIC_RETRAIN_REQUESTS = "retrain-requests"
TOPICS = (TOPIC_PRODUCT_EVENTS, TOPIC_MODEL_EVENTS, TOPIC_MESSAGE_EVENTS, TOPIC_RETRAIN_REQUESTS)

PRODUCT_CLASSIFIED = "product.classified"
PRODUCT_REJECTED = "product.rejected"
PRODUCT_REVIEWED = "product.reviewed"
PRODUCT_PUBLISHED = "product.published"
MODEL_TRAINED = "model.trained"
MODEL_PROMOTED = "model.promoted"
MODEL_REJECTED = "model.rejected"
MODEL_UPLOADED = "model.uploaded"
MESSAGE_SENT = "message.sent"
RETRAIN_REQUESTED = "retrain.requested"
# The kind of a notification a manager writes directly (no event behind it).
MANAGER_NOTICE = "manager.notice"

# The CloudEvent types the functions are triggered by: Eventarc's storage event, and what
# functions-framework makes of a Pub/Sub push.
OBJECT_FINALIZED = "google.cloud.storage.object.v1.finalized"
MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"

# --- deterministic ids -----------------------------------------------------------------------


def derived_id(*parts: str) -> str:
    """The id of a document made because of ``parts``: the same parts, the same id.

    Every write that at-least-once delivery could repeat uses one, so a redelivery finds the
    document there instead of adding a second one.
    """
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def product_id(bucket: str, name: str, generation: str) -> str:
    """``products/{id}`` of one generation of an uploaded object."""
    return derived_id(bucket, name, generation)


def notification_id(event_id: str, recipient: str) -> str:
    """``notifications/{id}`` of what one event tells one recipient."""
    return derived_id(event_id, recipient)


_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def valid_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a plain id (a uid, a product or notification id): letters, digits,
    '-' and '_', at most 128 (Firebase's limit for uids); nothing a Firestore path, a folder
    name or a map key could read otherwise."""
    return isinstance(value, str) and _PLAIN_ID.fullmatch(value) is not None


# --- model versions --------------------------------------------------------------------------

_RUNS = re.compile(r"\d+|\D+")
# A version names a folder and a Firestore document: nothing that could climb out of either.
_VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def valid_version(version: object) -> bool:
    """Whether ``version`` may name a model version (letters, digits, '.', '_', '-'; at most 64)."""
    return isinstance(version, str) and _VERSION_NAME.fullmatch(version) is not None and ".." not in version


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sorts model versions as people count them: ``v2`` before ``v10``.

    Shipped versions are ``v1``, ``v2``...; retraining names its own by time
    (``20261130-031500-ab12cd``). Digit runs compare as numbers, the rest as text.
    """
    return tuple((0, int(run)) if run.isdigit() else (1, run) for run in _RUNS.findall(version))


# --- storage paths ---------------------------------------------------------------------------

UPLOAD_PREFIX = "uploads/"
DERIVED_PREFIX = "derived/"
# In the model bucket: a loaded model's files, until classify has checked them (model_check).
STAGING_PREFIX = "staging/"


def upload_object_name(seller_id: str, file_name: str) -> str:
    """``uploads/{seller_id}/{file_name}``: where a seller's photo goes in the upload bucket."""
    if not seller_id or "/" in seller_id:
        raise ValueError(f"invalid seller id {seller_id!r}")
    return f"{UPLOAD_PREFIX}{seller_id}/{file_name}"


def unique_upload_name(seller_id: str, file_name: str) -> str:
    """``uploads/{seller_id}/{stem}-{token}{suffix}``: a name no other upload has, so a second
    photo called like the first never replaces it (written with ifGenerationMatch=0 too)."""
    stem, dot, suffix = file_name.rpartition(".")
    if not dot or not stem:
        stem, suffix = file_name, ""
    token = uuid.uuid4().hex[:12]
    return upload_object_name(seller_id, f"{stem}-{token}{dot}{suffix}" if suffix else f"{stem}-{token}")


def upload_folder(seller_id: str) -> str:
    """``uploads/{seller_id}/``: the folder of one seller's photos."""
    return upload_object_name(seller_id, "")


def seller_of(name: str) -> str | None:
    """The seller id of ``uploads/{seller_id}/{file}``; None for anything else (loop guard)."""
    if not name.startswith(UPLOAD_PREFIX):
        return None
    parts = name[len(UPLOAD_PREFIX) :].split("/", 1)
    if len(parts) != 2 or not parts[0] or not parts[1] or parts[1].endswith("/"):
        return None
    return parts[0]


def derived_folder(product_id: str) -> str:
    """``derived/{product_id}/``: the model input and thumbnail of one product."""
    return f"{DERIVED_PREFIX}{product_id}/"


# --- upload batches --------------------------------------------------------------------------

# The photos a seller sends in one upload request (admin.upload_sessions) share a batch: each
# object carries the custom metadata ``batch`` (the id) and ``batch_size`` (how many files the
# request had); the product records ``batch {id, size}`` and its product event carries it, and
# the seller hears of a batch of more than one photo in one notification (PRODUCT_BATCH).
BATCH_METADATA_ID = "batch"
BATCH_METADATA_SIZE = "batch_size"
MAX_BATCH_SIZE = 50
# The kind of that notification, ``notifications/{batch_notification_id}``.
PRODUCT_BATCH = "product.batch"
# What each photo of a batch came to, by the product's terminal status.
BATCH_ACCEPTED, BATCH_TO_REVIEW, BATCH_REJECTED = "accepted", "to review", "rejected"
BATCH_OUTCOMES = {AUTO_ACCEPTED: BATCH_ACCEPTED, NEEDS_REVIEW: BATCH_TO_REVIEW, REJECTED: BATCH_REJECTED}
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclasses.dataclass(frozen=True)
class UploadBatch:
    """One upload request's batch: ``{"id", "size"}`` on a product and in its event."""

    id: str
    size: int

    def as_dict(self) -> dict[str, str | int]:
        return {"id": self.id, "size": self.size}


def upload_batch(value: object) -> UploadBatch | None:
    """The batch ``{"id", "size"}`` describes, or None: an id of 1 to 64 letters, digits, '_' or
    '-' and a size from 1 to MAX_BATCH_SIZE. Anything else (absent, forged, malformed) is none."""
    if not isinstance(value, dict):
        return None
    batch_id, size = value.get("id"), value.get("size")
    if isinstance(size, str) and size.isascii() and size.isdigit() and len(size) <= 3:
        size = int(size)  # object metadata holds strings
    if not isinstance(batch_id, str) or _BATCH_ID.fullmatch(batch_id) is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH_SIZE:
        return None
    return UploadBatch(batch_id, size)


def batch_from_metadata(metadata: object) -> UploadBatch | None:
    """The batch an uploaded object's custom metadata names, or None (see ``upload_batch``)."""
    if not isinstance(metadata, dict):
        return None
    return upload_batch({"id": metadata.get(BATCH_METADATA_ID), "size": metadata.get(BATCH_METADATA_SIZE)})


def batch_notification_id(batch_id: str, recipient: str) -> str:
    """``notifications/{id}`` of the one notification ``recipient`` gets for a batch of uploads."""
    return derived_id(PRODUCT_BATCH, batch_id, recipient)
