"""What the admin page reads: the review queue, the buyers' catalogue, one product, its history
and the activity log across products.

Firestore orders the queue and the catalogue (by confidence or date, with the composite
indexes in infra/main.tf); category, attribute and colour filters apply while reading, up to
``SCAN_LIMIT`` products a request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from fashiontag import clients, contract, products, taxonomy
from fashiontag.admin.errors import Invalid, NotFound
from fashiontag.admin.params import fraction, number
from fashiontag.admin.specs import colour_names
from fashiontag.contract import HISTORY

OPEN = (contract.NEEDS_REVIEW, contract.AUTO_ACCEPTED)
EDITABLE = (*OPEN, contract.VERIFIED, contract.PUBLISHED)
STATUS_CHOICES = ("open", "all", *contract.STATUSES)
# Products the queue and the catalogue read per request at most.
SCAN_LIMIT = 2000
CONFIDENCE_FIELD = "prediction.category.confidence"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def check_id(product_id: str) -> str:
    # Firestore reserves ids of the form __x__: asking for one is an error, not "not found".
    reserved = product_id.startswith("__") and product_id.endswith("__")
    if not _ID.match(product_id or "") or reserved:
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
    limit: int = 200

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
            limit=max(1, min(500, int(number(args.get("limit"), "limit") or 200))),
        )


def _products() -> firestore.CollectionReference:
    return clients.firestore_client().collection(contract.PRODUCTS)


def queue(flt: QueueFilter) -> list[dict[str, Any]]:
    """Products for the review queue, lowest category confidence first unless sorted by date.

    Firestore does the ordering (and the confidence bounds) wherever every product of the
    chosen statuses has a confidence, so the lowest come first however many products wait;
    category is then filtered while reading, up to ``SCAN_LIMIT`` products.
    """
    query: Any = _products()
    if flt.seller:
        query = query.where(filter=firestore.FieldFilter("seller_id", "==", flt.seller))
    bounded = False  # ordered by confidence, bounds applied, in Firestore
    if flt.status == "all":
        if flt.sort == "newest":
            query = query.order_by("created_at", direction=firestore.Query.DESCENDING)
    else:
        statuses = list(OPEN) if flt.status == "open" else [flt.status]
        query = query.where(filter=firestore.FieldFilter("status", "in", statuses))
        if flt.sort == "newest":
            query = query.order_by("created_at", direction=firestore.Query.DESCENDING)
        elif set(statuses) <= set(EDITABLE):  # all of them classified: all have a confidence
            bounded = True
            query = query.order_by(CONFIDENCE_FIELD)
            if flt.min_confidence is not None:
                query = query.where(filter=firestore.FieldFilter(CONFIDENCE_FIELD, ">=", flt.min_confidence))
            if flt.max_confidence is not None:
                query = query.where(filter=firestore.FieldFilter(CONFIDENCE_FIELD, "<=", flt.max_confidence))
    rows = []
    for snap in query.limit(SCAN_LIMIT).stream():
        doc = {"id": snap.id, **(snap.to_dict() or {})}
        if flt.category and doc.get("spec", {}).get("category") != flt.category:
            continue
        conf = confidence(doc)
        if flt.min_confidence is not None and (conf is None or conf < flt.min_confidence):
            continue
        if flt.max_confidence is not None and (conf is None or conf > flt.max_confidence):
            continue
        rows.append(doc)
        if len(rows) == flt.limit and (bounded or flt.sort == "newest"):
            break  # already in order: the rest come after
    if flt.sort == "confidence" and not bounded:
        # Rejected products have no confidence; they go last, oldest first.
        rows.sort(key=lambda d: (confidence(d) is None, confidence(d) or 0.0, str(d.get("created_at", ""))))
    return rows[: flt.limit]


def get_product(product_id: str) -> dict[str, Any]:
    doc = products.get(check_id(product_id))
    if doc is None:
        raise NotFound("No such product.")
    return {"id": product_id, **doc}


def history(product_id: str) -> list[dict[str, Any]]:
    ref = products.product_ref(check_id(product_id)).collection(HISTORY)
    entries = [snap.to_dict() or {} for snap in ref.stream()]
    return sorted(entries, key=lambda e: int(e.get("n", 0)))


def activity(limit: int = 100) -> list[dict[str, Any]]:
    """The most recent history entries across all products (a collection-group query)."""
    query = (
        clients.firestore_client()
        .collection_group(HISTORY)
        .order_by("at", direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    return [{"product_id": snap.reference.parent.parent.id, **(snap.to_dict() or {})} for snap in query.stream()]


def catalogue(category: str = "", attribute: str = "", colour: str = "", limit: int = 120) -> list[dict[str, Any]]:
    """Published products for buyers, filtered by category, one ``family=value`` and a colour."""
    tax = taxonomy.load()
    if category and category not in tax.labels:
        raise Invalid(f"'{category}' is not a category")
    family, _, value = attribute.partition("=")
    query: Any = _products().where(filter=firestore.FieldFilter("status", "==", contract.PUBLISHED))
    if category:
        query = query.where(filter=firestore.FieldFilter("spec.category", "==", category))
    # Newest first, ordered by Firestore: the first matches read are the newest there are.
    query = query.order_by("updated_at", direction=firestore.Query.DESCENDING)
    rows = []
    for snap in query.limit(SCAN_LIMIT).stream():
        doc = {"id": snap.id, **(snap.to_dict() or {})}
        spec = doc.get("spec", {})
        if attribute and (spec.get("attributes") or {}).get(family) != value:
            continue
        if colour and colour not in colour_names(spec):
            continue
        rows.append(doc)
        if len(rows) == limit:
            break
    return rows
