"""Who hears of which event, and what they read: the wording of every notification.

``ROUTES`` maps each event type to the function that words it; ``notices_for`` is what notify
calls. Pure: nothing here reads or writes Firestore (the product a wording needs is passed in).

    product.classified   the seller; the managers too when the product needs review
    product.rejected     the seller and the managers
                         (a photo from a batch of several, admin.upload_sessions: the seller's
                         notice is folded into the batch's one notification, see ``fold``)
    product.reviewed     the seller
    product.published    the seller
    model.trained        the managers
    model.promoted       the managers
    model.rejected       the managers
    message.sent         its addressee (a uid, or "role:manager")
"""

from __future__ import annotations

import collections
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fashiontag import contract
from fashiontag.contract import MANAGERS
from fashiontag.pubsub import Event

log = logging.getLogger(__name__)

_MAX_BODY_CHARS = 300


@dataclass(frozen=True)
class BatchEntry:
    """What one photo adds to the notification of its batch."""

    batch: contract.UploadBatch
    product_id: str
    outcome: str  # contract.BATCH_ACCEPTED | BATCH_TO_REVIEW | BATCH_REJECTED
    file: str
    reason: str | None = None  # why it was rejected


@dataclass(frozen=True)
class Notice:
    """One notification, before it is written."""

    to: str
    kind: str
    title: str
    body: str
    product_id: str | None = None
    # On the seller's notice of a photo from a batch of more than one: notify folds this entry
    # into the batch's notification instead of writing the notice (the notice says what the
    # photo alone would have said).
    batch: BatchEntry | None = None


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


def _batch_entry(event: Event, photo: str, reason: str | None = None) -> BatchEntry | None:
    """The entry of a photo from a batch of more than one; None for a single upload (no batch,
    a batch of one, anything malformed), which keeps its own notice."""
    batch = contract.upload_batch(event.payload.get("batch"))
    status = contract.REJECTED if event.type == contract.PRODUCT_REJECTED else event.payload.get("status")
    outcome = contract.BATCH_OUTCOMES.get(str(status))
    product_id = event.payload.get("product_id")
    if batch is None or batch.size < 2 or outcome is None:
        return None
    if not contract.valid_id(product_id):  # it becomes a key of the batch's maps
        return None
    kept = _truncate(reason) if reason and outcome == contract.BATCH_REJECTED else None
    return BatchEntry(batch, product_id, outcome, photo, kept)


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
            _batch_entry(event, photo),
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
        Notice(
            seller,
            event.type,
            "Photo rejected",
            f"Your photo {photo} was rejected: {reason}",
            product_id,
            _batch_entry(event, photo, reason),
        ),
        Notice(
            MANAGERS,
            event.type,
            "Upload rejected",
            f"The photo {photo} from seller {seller} was rejected" + (f" ({code})" if code else "") + f": {reason}",
            product_id,
        ),
    ]


# --- the batch notification ------------------------------------------------------------------
#
# ``notifications/{contract.batch_notification_id(batch id, seller)}`` holds, besides the fields
# of every notification, ``batch {id, size, outcomes {product_id: outcome}, rejected
# {product_id: reason}, files {product_id: file name}}``; its title and body are worded from
# that map alone, so whichever delivery changes it last words it right.

_BATCH_ORDER = (contract.BATCH_ACCEPTED, contract.BATCH_TO_REVIEW, contract.BATCH_REJECTED)
_REASON_CHARS = 64
_FILE_CHARS = 40


def fold(state: dict[str, Any] | None, entry: BatchEntry) -> dict[str, Any] | None:
    """The batch map with ``entry`` in it; None when it is there already (a redelivery, or
    another event about the same product), so nothing is written and nothing counted twice."""
    state = state if isinstance(state, dict) else {}
    size = state.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= contract.MAX_BATCH_SIZE:
        size = entry.batch.size  # the first photo's word stands: later events cannot resize it
    maps: dict[str, dict[str, Any]] = {key: dict(state.get(key) or {}) for key in ("outcomes", "rejected", "files")}
    before = {"id": entry.batch.id, "size": size, **maps}
    outcomes = {**maps["outcomes"], entry.product_id: entry.outcome}
    files = {**maps["files"], entry.product_id: entry.file}
    rejected = {k: v for k, v in maps["rejected"].items() if k != entry.product_id}
    if entry.outcome == contract.BATCH_REJECTED:
        rejected[entry.product_id] = entry.reason or "it could not be processed."
    after = {"id": entry.batch.id, "size": size, "outcomes": outcomes, "rejected": rejected, "files": files}
    return None if after == before else after


def _counts(state: dict[str, Any]) -> tuple[int, int, collections.Counter[str]]:
    """(photos done, photos in the batch, done by outcome)."""
    outcomes = state.get("outcomes") or {}
    done = collections.Counter(str(o) for o in outcomes.values())
    size = state.get("size")
    size = size if isinstance(size, int) and not isinstance(size, bool) else 0
    return len(outcomes), max(size, len(outcomes)), done


def batch_complete(state: dict[str, Any]) -> bool:
    """Whether every photo of the batch has its outcome."""
    done, total, _ = _counts(state)
    return 0 < total <= done


def batch_title(state: dict[str, Any]) -> str:
    """The title: "Your 14 photos: 12 accepted, 1 to review, 1 rejected"; while photos are still being
    processed "Your 14 photos: 9 of 14 done so far: 8 accepted, 1 rejected"."""
    done, total, counts = _counts(state)
    so_far = f"{done} of {total} done so far: " if done < total else ""
    tally = ", ".join(f"{counts[o]} {o}" for o in _BATCH_ORDER if counts[o])
    return f"Your {total} photos: {so_far}{tally}"


def _short_reason(reason: str) -> str:
    """The first sentence of a rejection's message, without its advice: "This file is a PDF
    document, not a photo"."""
    first = re.split(r"(?<=[.!?])\s+", " ".join(str(reason).split()), maxsplit=1)[0].rstrip(".")
    return _truncate(first, _REASON_CHARS)


def _rejected_sentence(rejected: list[tuple[str, str]], room: int) -> str:
    """The sentence "Rejected: a.pdf – reason; b.jpg – reason; and 2 more." in at most ``room``
    characters: as many files as fit (the first always), the others counted."""
    named: list[str] = []
    for n, (name, reason) in enumerate(rejected):
        more = len(rejected) - n - 1
        tail = f"; and {more} more." if more else "."
        candidate = "Rejected: " + "; ".join([*named, f"{name} – {reason}"])
        if named and len(candidate) + len(tail) > room:
            break
        named.append(f"{name} – {reason}")
    more = len(rejected) - len(named)
    return "Rejected: " + "; ".join(named) + (f"; and {more} more." if more else ".")


def batch_body(state: dict[str, Any]) -> str:
    """What needs the seller's attention: the rejected files with their reasons, shortened,
    then how many wait for a manager; or that nothing does."""
    done, total, counts = _counts(state)
    outcomes, files = state.get("outcomes") or {}, state.get("files") or {}
    rejected = sorted(
        (_truncate(str(files.get(pid) or "a photo"), _FILE_CHARS), _short_reason(str(reason)))
        for pid, reason in (state.get("rejected") or {}).items()
        if outcomes.get(pid) == contract.BATCH_REJECTED
    )
    waiting = counts[contract.BATCH_TO_REVIEW]
    review = f"{waiting} photos wait for a manager's check." if waiting else ""
    if waiting == 1:
        review = "1 photo waits for a manager's check."
    if rejected:
        room = _MAX_BODY_CHARS - (len(review) + 1 if review else 0)
        return _truncate(" ".join(s for s in (_rejected_sentence(rejected, room), review) if s))
    if review:
        return review
    return "All accepted: nothing needs your attention." if done >= total else "Nothing needs your attention so far."


def batch_notice(to: str, state: dict[str, Any]) -> Notice:
    """The batch's notification as it reads with ``state``."""
    return Notice(to, contract.PRODUCT_BATCH, batch_title(state), batch_body(state))


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
