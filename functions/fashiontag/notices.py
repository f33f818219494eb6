"""Who hears of which event, and what they read: the wording of every notification.

``ROUTES`` maps each event type to the function that words it; ``notices_for`` is what notify
calls. Pure: nothing here reads or writes Firestore (the product a wording needs is passed in).

    product.classified   the seller; the managers too when the product needs review
    product.rejected     the seller and the managers
    product.reviewed     the seller
    product.published    the seller
    model.trained        the managers
    model.promoted       the managers
    model.rejected       the managers
    message.sent         its addressee (a uid, or "role:manager")
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fashiontag import contract
from fashiontag.contract import MANAGERS
from fashiontag.pubsub import Event

log = logging.getLogger(__name__)

_MAX_BODY_CHARS = 300


@dataclass(frozen=True)
class Notice:
    """One notification, before it is written."""

    to: str
    kind: str
    title: str
    body: str
    product_id: str | None = None


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
NEEDS_PRODUCT = {contract.PRODUCT_REVIEWED, contract.PRODUCT_PUBLISHED}


def notices_for(event: Event, product: dict[str, Any] | None = None) -> list[Notice]:
    """Who hears of ``event`` and what they read; [] for a type notify does not handle."""
    route = ROUTES.get(event.type)
    return route(event, product) if route else []
