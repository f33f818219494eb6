"""What the admin page reads: the review queue, one product, its history and the activity log
across products (the buyers' catalogue: ``catalogue``).

Firestore orders the queue (by confidence or date, with the composite indexes in
infra/main.tf) and pages it by cursors (``pages``); the category filter applies while reading,
up to ``SCAN_LIMIT`` products a page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from fashiontag import clients, contract, products, taxonomy
from fashiontag.admin import pages
from fashiontag.admin.errors import Invalid, NotFound
from fashiontag.admin.params import fraction
from fashiontag.contract import CONFIDENCE_FIELD, HISTORY

OPEN = (contract.NEEDS_REVIEW, contract.AUTO_ACCEPTED)
EDITABLE = (*OPEN, contract.VERIFIED, contract.PUBLISHED)
STATUS_CHOICES = ("open", "all", *contract.STATUSES)
# Products the queue and the catalogue read per request at most.
SCAN_LIMIT = 2000
PAGE_SIZE = 50


def check_id(product_id: str) -> str:
    # Firestore reserves ids of the form __x__: asking for one is an error, not "not found".
    reserved = product_id.startswith("__") and product_id.endswith("__")
    if not contract.valid_id(product_id) or reserved:
        raise NotFound("No such product.")
    return product_id


def confidence(doc: dict[str, Any]) -> float | None:
    value = doc.get("prediction", {}).get("category", {}).get("confidence")
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class QueueFilter:
    status: str = "open"
    category: str = ""
    seller: str = ""
    min_confidence: float | None = None
    max_confidence: float | None = None
    sort: str = "confidence"  # lowest confidence first; or "newest"
    limit: int = PAGE_SIZE
    after: str = ""  # the page token of the previous page's last product

    @classmethod
    def from_args(cls, args: Any) -> QueueFilter:
        status = (args.get("status") or "open").strip()
        if status not in STATUS_CHOICES:
            raise Invalid(f"'{status}' is not a status filter; choose one of: {', '.join(STATUS_CHOICES)}")
        category = (args.get("category") or "").strip()
        if category and category not in taxonomy.load().labels:
            raise Invalid(f"'{category}' is not a category")
        sort = (args.get("sort") or "confidence").strip()
        if sort not in ("confidence", "newest"):
            raise Invalid("sort must be 'confidence' or 'newest'")
        return cls(
            status=status,
            category=category,
            seller=(args.get("seller") or "").strip()[:128],
            min_confidence=fraction(args.get("min_confidence"), "min_confidence"),
            max_confidence=fraction(args.get("max_confidence"), "max_confidence"),
            sort=sort,
            limit=pages.size(args.get("limit"), PAGE_SIZE),
            after=(args.get("after") or "").strip(),
        )

    def statuses(self) -> tuple[str, ...]:
        if self.status == "all":
            return contract.STATUSES
        return OPEN if self.status == "open" else (self.status,)

    def keeps(self, doc: dict[str, Any]) -> bool:
        if self.category and doc.get("spec", {}).get("category") != self.category:
            return False
        conf = confidence(doc)
        if self.min_confidence is not None and (conf is None or conf < self.min_confidence):
            return False
        return not (self.max_confidence is not None and (conf is None or conf > self.max_confidence))


def _products() -> firestore.CollectionReference:
    return clients.firestore_client().collection(contract.PRODUCTS)


def _by_confidence(flt: QueueFilter, statuses: tuple[str, ...]) -> Any:
    query: Any = _products()
    if flt.seller:
        query = query.where(filter=firestore.FieldFilter("seller_id", "==", flt.seller))
    query = query.where(filter=firestore.FieldFilter("status", "in", list(statuses)))
    query = query.order_by(CONFIDENCE_FIELD)
    if flt.min_confidence is not None:
        query = query.where(filter=firestore.FieldFilter(CONFIDENCE_FIELD, ">=", flt.min_confidence))
    if flt.max_confidence is not None:
        query = query.where(filter=firestore.FieldFilter(CONFIDENCE_FIELD, "<=", flt.max_confidence))
    return query


def _by_date(flt: QueueFilter, statuses: tuple[str, ...]) -> Any:
    query: Any = _products()
    if flt.seller:
        query = query.where(filter=firestore.FieldFilter("seller_id", "==", flt.seller))
    if set(statuses) != set(contract.STATUSES):
        query = query.where(filter=firestore.FieldFilter("status", "in", list(statuses)))
    return query.order_by("created_at", direction=firestore.Query.DESCENDING)


def _queue_parts(flt: QueueFilter) -> list[tuple[tuple[str, ...], Any]]:
    """The queries whose results, one after the other, make the queue: (their statuses, query).

    Newest first is one query. Lowest confidence first is Firestore's order over the products
    that have a confidence, then (without confidence bounds, which they cannot meet) those
    without one, received or rejected, newest first.
    """
    wanted = flt.statuses()
    if flt.sort == "newest":
        return [(wanted, _by_date(flt, wanted))]
    parts: list[tuple[tuple[str, ...], Any]] = []
    scored = tuple(s for s in wanted if s in EDITABLE)
    if scored:
        parts.append((scored, _by_confidence(flt, scored)))
    unscored = tuple(s for s in wanted if s not in EDITABLE)
    if unscored and flt.min_confidence is None and flt.max_confidence is None:
        parts.append((unscored, _by_date(flt, unscored)))
    return parts


def queue(flt: QueueFilter) -> pages.Page:
    """A page of the review queue, lowest category confidence first unless sorted by date.

    Firestore orders (and bounds the confidence); the category filter applies while reading,
    at most ``SCAN_LIMIT`` products a page. A page token resumes in the part of the queue its
    product belongs to.
    """
    parts = _queue_parts(flt)
    start = pages.after(flt.after, pages.in_collection(contract.PRODUCTS))
    first = 0
    if start is not None:
        status = (start.to_dict() or {}).get("status")
        first = next((i for i, (statuses, _) in enumerate(parts) if status in statuses), 0)
    # Only the category is filtered while reading: without it, one more than a page is enough.
    cap = SCAN_LIMIT if flt.category else flt.limit + 1

    def snapshots() -> Iterator[firestore.DocumentSnapshot]:
        for i, (_, query) in enumerate(parts[first:]):
            resumed = query.start_after(start) if i == 0 and start is not None else query
            yield from resumed.limit(cap).stream()

    return pages.collect(snapshots(), flt.limit, keep=flt.keeps, budget=SCAN_LIMIT)


def get_product(product_id: str) -> dict[str, Any]:
    doc = products.get(check_id(product_id))
    if doc is None:
        raise NotFound("No such product.")
    return {"id": product_id, **doc}


def history(product_id: str) -> list[dict[str, Any]]:
    ref = products.product_ref(check_id(product_id)).collection(HISTORY)
    entries = [snap.to_dict() or {} for snap in ref.stream()]
    return sorted(entries, key=lambda e: int(e.get("n", 0)))


def _recent_history() -> Any:
    return clients.firestore_client().collection_group(HISTORY).order_by("at", direction=firestore.Query.DESCENDING)


def _recent_messages() -> Any:
    messages = clients.firestore_client().collection(contract.MESSAGES)
    return messages.order_by("created_at", direction=firestore.Query.DESCENDING)


def _history_path(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 4 and parts[0] == contract.PRODUCTS and parts[2] == HISTORY


def _history_entry(snap: firestore.DocumentSnapshot) -> dict[str, Any]:
    return {"kind": "history", "product_id": snap.reference.parent.parent.id, **(snap.to_dict() or {})}


def _message_entry(snap: firestore.DocumentSnapshot) -> dict[str, Any]:
    doc = snap.to_dict() or {}
    return {"kind": "message", "id": snap.id, "at": doc.get("created_at"), **doc}


ACTIVITY = (
    pages.Source("history", _recent_history, _history_path, lambda e: e.get("at"), _history_entry),
    pages.Source(
        "messages", _recent_messages, pages.in_collection(contract.MESSAGES), lambda e: e.get("at"), _message_entry
    ),
)


def activity(limit: int = PAGE_SIZE, after: str = "") -> pages.Page:
    """The activity log, newest first: every product's history entries (a collection-group
    query) and every message, merged."""
    return pages.merge(list(ACTIVITY), limit, after)
