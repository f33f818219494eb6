"""Domain events -> ``notifications/{id}`` for the people concerned, and pushes to their devices.

``handle_message`` is what notify calls for each Pub/Sub message on product-events,
model-events and message-events. Delivery is at least once, also concurrently, so every write
is a ``create()`` of a document whose id derives from (event id, recipient): the first delivery
creates it, every other one finds it there (AlreadyExists) and counts that as done. A message
that can never be handled (not JSON, no type, missing fields) is logged and acknowledged;
Firestore errors propagate, so Pub/Sub delivers the message again.

Routing, who hears of what (``ROUTES`` below is the table):

    product.classified   the seller; the managers too when the product needs review
    product.rejected     the seller and the managers
    product.reviewed     the seller
    product.published    the seller
    model.trained        the managers
    model.promoted       the managers
    model.rejected       the managers
    message.sent         its addressee (a uid, or "role:manager")

Pushes: a recipient's devices are the ``device_tokens`` of ``users/{uid}``; a role recipient
means every user with that role. With ``FASHIONTAG_PUSH_MODE=fcm`` they are sent through
Firebase Cloud Messaging; with ``outbox`` (the emulators) they are written to
``push_outbox/{notification_id}``. This module never imports TensorFlow or LiteRT.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, config, contract, pubsub
from fashiontag.contract import MANAGERS, NOTIFICATIONS, PUSH_OUTBOX, ROLE_PREFIX, USERS
from fashiontag.pubsub import Event, Malformed

log = logging.getLogger(__name__)

# Cloud Messaging takes at most 500 tokens per multicast.
_MAX_TOKENS = 500
_MAX_BODY_CHARS = 300


@dataclass(frozen=True)
class Notice:
    """One notification, before it is written."""

    to: str
    kind: str
    title: str
    body: str
    product_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one delivery did: for logs and tests."""

    status: str  # "notified" | "ignored" | "malformed"
    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    pushes: int = 0


# --- routing and wording ---------------------------------------------------------------------


def _file_name(event: Event, product: dict[str, Any] | None) -> str | None:
    image = event.payload.get("image") or (product or {}).get("image") or {}
    name = image.get("name") if isinstance(image, dict) else None
    return name.rsplit("/", 1)[-1] if isinstance(name, str) and name else None


@functools.cache
def _category_names() -> dict[str, str]:
    # Imported here: the taxonomy needs models/taxonomy.yaml, which a notify bundle may lack.
    try:
        from fashiontag import taxonomy

        return {c.id: c.name for c in taxonomy.load().categories}
    except (OSError, ImportError, KeyError, TypeError, ValueError):
        log.warning("taxonomy not available; category ids are shown as they are")
        return {}


def category_name(label: str) -> str:
    return _category_names().get(label) or label.replace("_", " ").capitalize()


def _category(value: Any) -> tuple[str | None, float | None]:
    """(label, confidence) from ``{"label", "confidence"}`` or a bare label."""
    if isinstance(value, dict):
        confidence = value.get("confidence")
        return value.get("label"), float(confidence) if isinstance(confidence, int | float) else None
    return (value, None) if isinstance(value, str) else (None, None)


def _described(label: str | None, confidence: float | None) -> str:
    if not label:
        return "an unknown category"
    name = category_name(label)
    return f"{name} ({confidence:.0%})" if confidence is not None else name


def _truncate(text: str, limit: int = _MAX_BODY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _product_classified(event: Event, product: dict[str, Any] | None) -> list[Notice]:
    product_id, seller = event.field("product_id"), event.recipient("seller_id")
    photo = _file_name(event, product) or "photo"
    label, confidence = _category(event.payload.get("category"))
    described = _described(label, confidence)
    needs_review = event.payload.get("status") == contract.NEEDS_REVIEW
    next_step = "A manager will check it." if needs_review else "It was accepted automatically."
    notices = [
        Notice(
            seller,
            event.type,
            "Photo classified",
            f"Your photo {photo} was classified as {described}. {next_step}",
            product_id,
        )
    ]
    if needs_review:
        notices.append(
            Notice(
                MANAGERS,
                event.type,
                "Product to review",
                f"The photo {photo} from seller {seller} was classified as {described} and needs review.",
                product_id,
            )
        )
    return notices


def _product_rejected(event: Event, product: dict[str, Any] | None) -> list[Notice]:
    product_id, seller = event.field("product_id"), event.recipient("seller_id")
    photo = _file_name(event, product) or "photo"
    rejection = event.payload.get("rejection") or {}
    reason = rejection.get("message") if isinstance(rejection, dict) else None
    reason = reason or "it could not be processed."
    code = rejection.get("code") if isinstance(rejection, dict) else None
    return [
        Notice(seller, event.type, "Photo rejected", f"Your photo {photo} was rejected: {reason}", product_id),
        Notice(
            MANAGERS,
            event.type,
            "Upload rejected",
            f"The photo {photo} from seller {seller} was rejected" + (f" ({code})" if code else "") + f": {reason}",
            product_id,
        ),
    ]


def _spec_category(doc: dict[str, Any] | None) -> Any:
    spec = (doc or {}).get("spec")
    return spec.get("category") if isinstance(spec, dict) else None


def _product_label(event: Event, product: dict[str, Any] | None) -> str:
    """How a seller recognises a product: " Coat (coat.png)", or "" when nothing is known."""
    label, _ = _category(event.payload.get("category") or _spec_category(event.payload) or _spec_category(product))
    photo = _file_name(event, product)
    parts = [category_name(label) if label else None, f"({photo})" if photo else None]
    return "".join(f" {p}" for p in parts if p)


# The admin app's review actions (fashiontag.admin.review) and the status they leave.
_ACTION_VERBS = {"edit": "corrected", "verify": "verified"}
_STATUS_SENTENCES = {
    contract.NEEDS_REVIEW: " It still awaits a final check.",
    contract.AUTO_ACCEPTED: " It is accepted.",
    contract.VERIFIED: " It is now verified.",
    contract.PUBLISHED: " It is published.",
}


def _product_reviewed(event: Event, product: dict[str, Any] | None) -> list[Notice]:
    product_id, seller = event.field("product_id"), event.recipient("seller_id")
    verb = _ACTION_VERBS.get(str(event.payload.get("action")), "reviewed")
    status = event.payload.get("status") or (product or {}).get("status")
    outcome = _STATUS_SENTENCES.get(str(status), "")
    return [
        Notice(
            seller,
            event.type,
            f"Product {verb}",
            f"A manager {verb} your product{_product_label(event, product)}.{outcome}",
            product_id,
        )
    ]


def _product_published(event: Event, product: dict[str, Any] | None) -> list[Notice]:
    product_id, seller = event.field("product_id"), event.recipient("seller_id")
    return [
        Notice(
            seller,
            event.type,
            "Product published",
            f"Your product{_product_label(event, product)} is now published: buyers can see it.",
            product_id,
        )
    ]


def _model_version(event: Event) -> str:
    name = event.payload.get("model") or event.payload.get("model_name") or "model"
    version = event.payload.get("version")
    return f"{name} {version}" if version else str(name)


def _accuracy(event: Event) -> str:
    """The accuracy suffix from the training job's summary, when present: " (accuracy 91.2%; active v1: 90.9%)"."""
    metrics = event.payload.get("metrics")
    value = event.payload.get("candidate_accuracy")
    if value is None:
        value = metrics.get("accuracy") if isinstance(metrics, dict) else event.payload.get("accuracy")
    if not isinstance(value, int | float):
        return ""
    active, active_version = event.payload.get("active_accuracy"), event.payload.get("active_version")
    versus = (
        f"; active {active_version}: {active:.1%}"
        if isinstance(active, int | float) and active_version and active_version != event.payload.get("version")
        else ""
    )
    return f" (accuracy {value:.1%}{versus})"


def _reason(event: Event) -> str:
    reason = event.payload.get("reason")
    reasons = event.payload.get("reasons")
    if isinstance(reasons, list) and reasons:
        reason = "; ".join(str(r) for r in reasons)
    return f": {reason}" if isinstance(reason, str) and reason else "."


def _model_trained(event: Event, product: dict[str, Any] | None) -> list[Notice]:
    body = f"Model {_model_version(event)} finished training{_accuracy(event)}."
    return [Notice(MANAGERS, event.type, "Model trained", body)]


def _model_promoted(event: Event, product: dict[str, Any] | None) -> list[Notice]:
    previous = event.payload.get("previous_version")
    replaced = f", replacing {previous}" if previous else ""
    body = f"Model {_model_version(event)} is now active{replaced}{_accuracy(event)}{_reason(event)}"
    return [Notice(MANAGERS, event.type, "Model promoted", body)]


def _model_rejected(event: Event, product: dict[str, Any] | None) -> list[Notice]:
    body = f"Candidate model {_model_version(event)} was not promoted{_accuracy(event)}{_reason(event)}"
    return [Notice(MANAGERS, event.type, "Model not promoted", body)]


_ROLE_NAMES = {contract.SELLER: "a seller", contract.MANAGER: "a manager", contract.BUYER: "a buyer"}


def _message_sent(event: Event, product: dict[str, Any] | None) -> list[Notice]:
    to, text = event.recipient("to"), event.field("text")
    sender = _ROLE_NAMES.get(str(event.payload.get("from_role")), "someone")
    product_id = event.payload.get("product_id")
    return [
        Notice(
            to,
            event.type,
            f"New message from {sender}",
            _truncate(text),
            product_id if isinstance(product_id, str) and product_id else None,
        )
    ]


Router = Callable[[Event, dict[str, Any] | None], list[Notice]]

ROUTES: dict[str, Router] = {
    contract.PRODUCT_CLASSIFIED: _product_classified,
    contract.PRODUCT_REJECTED: _product_rejected,
    contract.PRODUCT_REVIEWED: _product_reviewed,
    contract.PRODUCT_PUBLISHED: _product_published,
    contract.MODEL_TRAINED: _model_trained,
    contract.MODEL_PROMOTED: _model_promoted,
    contract.MODEL_REJECTED: _model_rejected,
    contract.MESSAGE_SENT: _message_sent,
}
# The admin app's events carry no file name: the product document has it.
_NEEDS_PRODUCT = {contract.PRODUCT_REVIEWED, contract.PRODUCT_PUBLISHED}


def notices_for(event: Event, product: dict[str, Any] | None = None) -> list[Notice]:
    """Who hears of ``event`` and what they read; [] for a type notify does not handle."""
    route = ROUTES.get(event.type)
    return route(event, product) if route else []


# --- writing ---------------------------------------------------------------------------------


def handle_message(data: Any) -> Outcome:
    """Handle one ``messagePublished`` CloudEvent's data; raises only what should be retried."""
    try:
        event = pubsub.decode(data)
        if event.type not in ROUTES:
            log.info("notify: no notifications for event type %s (%s)", event.type, event.event_id)
            return Outcome("ignored")
        product = _product(event) if event.type in _NEEDS_PRODUCT else None
        notices = notices_for(event, product)
    except Malformed as error:
        log.error("notify: dropping a malformed message: %s", error)
        return Outcome("malformed")
    created: list[str] = []
    existing: list[str] = []
    pushes = 0
    for notice in notices:
        nid = contract.notification_id(event.event_id, notice.to)
        (created if _create_notification(nid, event, notice) else existing).append(nid)
        # Also after AlreadyExists: the delivery that created it may have died before pushing.
        pushes += _push(nid, notice)
    log.info(
        "notify: %s %s -> %d new, %d already there, %d pushes",
        event.type,
        event.event_id,
        len(created),
        len(existing),
        pushes,
    )
    return Outcome("notified", tuple(created), tuple(existing), pushes)


def _product(event: Event) -> dict[str, Any] | None:
    product_id = event.payload.get("product_id")
    if not isinstance(product_id, str) or not product_id or "/" in product_id:
        return None  # the wording does without it; the recipient check happens later
    snap = clients.firestore_client().collection(contract.PRODUCTS).document(product_id).get()
    return snap.to_dict() if snap.exists else None


def _create_notification(nid: str, event: Event, notice: Notice) -> bool:
    """True when this delivery created it; False when an earlier one had."""
    doc = {
        "to": notice.to,
        "kind": notice.kind,
        "title": notice.title,
        "body": notice.body,
        "product_id": notice.product_id,
        "read": False,
        "created_at": firestore.SERVER_TIMESTAMP,
        "event_id": event.event_id,
    }
    try:
        clients.firestore_client().collection(NOTIFICATIONS).document(nid).create(doc)
    except gexc.AlreadyExists:
        return False
    return True


def device_tokens(recipient: str) -> list[str]:
    """Every device token of a uid, or of every user holding a role ("role:manager")."""
    users = clients.firestore_client().collection(USERS)
    if recipient.startswith(ROLE_PREFIX):
        query = users.where(filter=firestore.FieldFilter("role", "==", recipient[len(ROLE_PREFIX) :]))
        docs = [snap.to_dict() or {} for snap in query.stream()]
    else:
        snap = users.document(recipient).get()
        docs = [snap.to_dict() or {}] if snap.exists else []
    tokens: dict[str, None] = {}  # ordered and without duplicates
    for doc in docs:
        listed = doc.get("device_tokens")
        if isinstance(listed, list):
            tokens.update((t, None) for t in listed if isinstance(t, str) and t)
    return list(tokens)[:_MAX_TOKENS]


def push_data(nid: str, notice: Notice) -> dict[str, str]:
    """The data payload of a push: strings only, as Cloud Messaging requires."""
    data = {"notification_id": nid, "kind": notice.kind}
    if notice.product_id:
        data["product_id"] = notice.product_id
    return data


def _push(nid: str, notice: Notice) -> int:
    """Push ``notice`` to the recipient's devices once; returns 1 if this delivery did."""
    tokens = device_tokens(notice.to)
    if not tokens:
        return 0
    mode = config.push_mode()
    record = {
        "to": notice.to,
        "tokens": tokens,
        "title": notice.title,
        "body": notice.body,
        "data": push_data(nid, notice),
        "mode": mode,
        "state": "outbox" if mode == config.PUSH_MODE_OUTBOX else "sending",
        "created_at": firestore.SERVER_TIMESTAMP,
    }
    ref = clients.firestore_client().collection(PUSH_OUTBOX).document(nid)
    try:
        # In outbox mode this is the push itself; under fcm it is the claim to send it, so
        # concurrent deliveries send at most one push.
        ref.create(record)
    except gexc.AlreadyExists:
        return 0
    if mode == config.PUSH_MODE_FCM:
        try:
            result = _send_fcm(record)
        except BaseException:
            # Give the claim back so the retry sends it; a crash right here loses one push,
            # never the notification itself.
            with contextlib.suppress(Exception):
                ref.delete()
            raise
        ref.update({"state": "sent", **result, "sent_at": firestore.SERVER_TIMESTAMP})
    return 1


# --- Firebase Cloud Messaging (the cloud; it has no emulator) --------------------------------


def _addresses(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(legacy registration tokens, installation ids) of a push record: tokens hold a colon."""
    return [t for t in record["tokens"] if ":" in t], [t for t in record["tokens"] if ":" not in t]


def fcm_message(record: dict[str, Any]) -> Any:
    """The ``messaging.MulticastMessage`` for a push record.

    Cloud Messaging now addresses devices by Firebase installation id (FID); registration
    tokens, which contain a colon (FIDs never do), still work but are deprecated, so
    ``device_tokens`` may hold either and each goes where it belongs.
    """
    from firebase_admin import messaging

    legacy, fids = _addresses(record)
    return messaging.MulticastMessage(
        fids=fids or None,
        tokens=legacy or None,
        notification=messaging.Notification(title=record["title"], body=record["body"]),
        data=dict(record["data"]),
    )


def dead_addresses(record: dict[str, Any], responses: list[Any]) -> list[str]:
    """The addresses Cloud Messaging says no device answers to any more.

    ``responses`` come in the order firebase-admin sends a multicast: tokens, then FIDs.
    Unregistered (app removed, token expired) and sender mismatch (another project's token)
    are permanent; other failures (quota, unavailable) say nothing about the device.
    """
    from firebase_admin import messaging

    legacy, fids = _addresses(record)
    permanent = (messaging.UnregisteredError, messaging.SenderIdMismatchError)
    return [a for a, r in zip(legacy + fids, responses, strict=True) if isinstance(r.exception, permanent)]


def forget_devices(addresses: list[str]) -> int:
    """Remove dead addresses from every user that lists them; returns how many users changed."""
    users = clients.firestore_client().collection(USERS)
    changed = 0
    for address in addresses:
        query = users.where(filter=firestore.FieldFilter("device_tokens", "array_contains", address))
        for snap in query.stream():
            snap.reference.update({"device_tokens": firestore.ArrayRemove([address])})
            changed += 1
    return changed


@functools.cache
def _firebase_app() -> Any:
    import firebase_admin

    # A named app: another module of the same process may own the default one.
    return firebase_admin.initialize_app(options={"projectId": config.project()}, name="fashiontag-notify")


def _send_fcm(record: dict[str, Any]) -> dict[str, int]:
    from firebase_admin import messaging

    response = messaging.send_each_for_multicast(fcm_message(record), app=_firebase_app())
    if response.failure_count:
        log.warning("notify: %d of %d pushes failed", response.failure_count, len(record["tokens"]))
    dead = dead_addresses(record, response.responses)
    if dead:
        # Pushing to them again would fail again: each failure costs a send and a log line.
        forget_devices(dead)
    return {"success_count": response.success_count, "failure_count": response.failure_count, "forgotten": len(dead)}
