"""Managers' review of products: the queue, corrections, verification and publication.

Every change is one Firestore transaction that updates the product and creates its history
entry ``products/{id}/history/{n}`` ``{by, at, action, before, after}``, where ``n`` is the
product's ``history_count`` after the change, so entries are numbered without gaps. After the
transaction the change is announced on ``product-events`` (``product.reviewed`` for edits and
verification, ``product.published``) with the event id ``{type}:{product}:{n}``. A retried
request finds the change already made: it writes nothing and announces entry ``n`` again
under the same event id, which consumers drop as a duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from fashiontag import clients, contract, events, products, taxonomy
from fashiontag.admin.errors import Conflict, Invalid, NotFound
from fashiontag.admin.identity import Principal
from fashiontag.contract import HISTORY

EDIT, VERIFY, PUBLISH = "edit", "verify", "publish"
EVENT_OF = {EDIT: contract.PRODUCT_REVIEWED, VERIFY: contract.PRODUCT_REVIEWED, PUBLISH: contract.PRODUCT_PUBLISHED}
OPEN = (contract.NEEDS_REVIEW, contract.AUTO_ACCEPTED)
EDITABLE = (*OPEN, contract.VERIFIED, contract.PUBLISHED)
STATUS_CHOICES = ("open", "all", *contract.STATUSES)
MAX_BATCH = 200
MAX_COLOURS = 6
# Products the queue and the catalogue read per request at most. Firestore orders them (by
# confidence or date); category, attribute and colour filters apply while reading.
SCAN_LIMIT = 2000
CONFIDENCE_FIELD = "prediction.category.confidence"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_COLOUR = re.compile(r"^[a-z][a-z -]{0,29}$")
_TXN_ATTEMPTS = 30


def check_id(product_id: str) -> str:
    if not _ID.match(product_id or ""):
        raise NotFound("No such product.")
    return product_id


def confidence(doc: dict[str, Any]) -> float | None:
    value = doc.get("prediction", {}).get("category", {}).get("confidence")
    return float(value) if isinstance(value, int | float) else None


def colour_names(spec: dict[str, Any]) -> list[str]:
    """Colour names of a spec, whether it holds names or ``{name, hex, share}`` entries."""
    names = []
    for colour in spec.get("colours") or []:
        name = colour.get("name") if isinstance(colour, dict) else colour
        if isinstance(name, str) and name:
            names.append(name)
    return names


# --- reading --------------------------------------------------------------------------------


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
            min_confidence=_fraction(args.get("min_confidence"), "min_confidence"),
            max_confidence=_fraction(args.get("max_confidence"), "max_confidence"),
            sort=sort,
            limit=max(1, min(500, int(_number(args.get("limit"), "limit") or 200))),
        )


def _number(value: Any, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a number") from None


def _fraction(value: Any, name: str) -> float | None:
    number = _number(value, name)
    if number is not None and not 0.0 <= number <= 1.0:
        raise Invalid(f"{name} must be between 0 and 1")
    return number


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


# --- changing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    product_id: str
    changed: bool
    n: int
    doc: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "changed": self.changed,
            "history": self.n,
            "status": self.doc.get("status"),
            "spec": self.doc.get("spec"),
        }


Change = Callable[[dict[str, Any]], dict[str, Any] | None]


def _state(doc: dict[str, Any]) -> dict[str, Any]:
    return {"status": doc.get("status"), "spec": doc.get("spec", {})}


def _apply(product_id: str, by: Principal, action: str, change: Change) -> Outcome:
    """Run ``change`` on the product in a transaction with its history entry, then announce it."""
    ref = products.product_ref(check_id(product_id))
    db = clients.firestore_client()

    @firestore.transactional
    def run(txn: firestore.Transaction) -> Outcome:
        snap = ref.get(transaction=txn)
        if not snap.exists:
            raise NotFound("No such product.")
        doc = snap.to_dict() or {}
        n = int(doc.get("history_count", 0))
        fields = change(doc)
        if fields is None:
            return Outcome(product_id, False, n, doc)
        n += 1
        review = {"by": by.uid, "at": firestore.SERVER_TIMESTAMP}
        after = {**doc, **fields}
        txn.update(ref, {**fields, "review": review, "history_count": n, "updated_at": firestore.SERVER_TIMESTAMP})
        txn.create(
            ref.collection(HISTORY).document(str(n)),
            {
                "n": n,
                "product_id": product_id,
                "by": by.uid,
                "by_email": by.email,
                "at": firestore.SERVER_TIMESTAMP,
                "action": action,
                "before": _state(doc),
                "after": _state(after),
            },
        )
        return Outcome(product_id, True, n, after)

    outcome: Outcome = run(db.transaction(max_attempts=_TXN_ATTEMPTS))
    if outcome.changed:
        _announce(outcome, action, by)
    elif outcome.n:
        # Nothing to change: a retry of a request that was applied. Announce that entry again
        # (same event id) in case the first attempt failed between the commit and the publish.
        last = ref.collection(HISTORY).document(str(outcome.n)).get().to_dict() or {}
        if last.get("action") == action and last.get("after") == _state(outcome.doc):
            _announce(outcome, action, Principal(str(last.get("by")), str(last.get("by_email", "")), "manager"))
    return outcome


def _announce(outcome: Outcome, action: str, by: Principal) -> None:
    event_type = EVENT_OF[action]
    events.publish(
        contract.TOPIC_PRODUCT_EVENTS,
        event_type,
        f"{event_type}:{outcome.product_id}:{outcome.n}",
        {
            "product_id": outcome.product_id,
            "seller_id": outcome.doc.get("seller_id"),
            "by": by.uid,
            "status": outcome.doc.get("status"),
            "action": action,
            "history": outcome.n,
            "spec": outcome.doc.get("spec"),
        },
    )


def colour_choices() -> list[str]:
    """The colour names a specification may hold: the palette colours are measured against."""
    from fashiontag.colours import PALETTE  # numpy and Pillow, imported only when needed

    return [name for name, _ in PALETTE]


def colour_swatches() -> list[tuple[str, str]]:
    from fashiontag.colours import PALETTE

    return list(PALETTE)


def validate_spec(category: Any, attributes: Any, colours: Any) -> dict[str, Any]:
    """The specification a manager submitted, checked against the taxonomy and the colour
    palette; raises Invalid naming every problem. ``colours`` None means "leave them"."""
    problems: list[str] = []
    if not isinstance(category, str) or not category:
        raise Invalid("The correction was not saved: choose a category.", ["category is missing"])
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise Invalid("The correction was not saved: attributes must map a family to one value.")
    attributes = {k: v for k, v in attributes.items() if v != ""}  # "" means "not set"
    problems += taxonomy.load().validate_spec(category, attributes)
    if isinstance(colours, str):
        colours = [c.strip().lower() for c in colours.split(",") if c.strip()]
    if colours is not None and (not isinstance(colours, list) or not all(isinstance(c, str) for c in colours)):
        problems.append("colours must be a list of colour names")
        colours = []
    palette = colour_choices()
    for colour in colours or []:
        if colour not in palette:
            shown = colour if _COLOUR.match(colour) else colour[:30].encode("ascii", "replace").decode()
            problems.append(f"'{shown}' is not a colour; choose from: {', '.join(palette)}")
    if colours is not None and len(colours) > MAX_COLOURS:
        problems.append(f"at most {MAX_COLOURS} colours")
    if problems:
        raise Invalid("The correction was not saved: " + "; ".join(problems), problems)
    return {
        "category": category,
        "attributes": attributes,
        "colours": None if colours is None else list(dict.fromkeys(colours)),
    }


def edit(product_id: str, by: Principal, category: Any, attributes: Any, colours: Any) -> Outcome:
    """Correct the specification (category, attribute values, colours); the status stays."""
    wanted = validate_spec(category, attributes, colours)

    def change(doc: dict[str, Any]) -> dict[str, Any] | None:
        status = doc.get("status")
        if status not in EDITABLE:
            raise Conflict(f"A product that is {status} cannot be corrected.")
        spec = doc.get("spec") or {}
        current = {
            "category": spec.get("category"),
            "attributes": spec.get("attributes") or {},
            "colours": colour_names(spec),
        }
        target = {**wanted, "colours": current["colours"] if wanted["colours"] is None else wanted["colours"]}
        if current == target and spec.get("source") == "manager":
            return None
        return {"spec": {**target, "source": "manager"}}

    return _apply(product_id, by, EDIT, change)


def verify(product_id: str, by: Principal, threshold: float | None = None) -> Outcome:
    """Accept the current specification; with ``threshold``, only at that confidence or above."""

    def change(doc: dict[str, Any]) -> dict[str, Any] | None:
        status = doc.get("status")
        if status == contract.VERIFIED:
            return None
        if status not in OPEN:
            raise Conflict(f"A product that is {status} cannot be verified.")
        if threshold is not None:
            conf = confidence(doc)
            if conf is None or conf < threshold:
                raise Conflict(f"Its confidence {conf if conf is not None else '-'} is below {threshold}.")
        return {"status": contract.VERIFIED}

    return _apply(product_id, by, VERIFY, change)


def publish(product_id: str, by: Principal) -> Outcome:
    """Show a verified product to buyers."""

    def change(doc: dict[str, Any]) -> dict[str, Any] | None:
        status = doc.get("status")
        if status == contract.PUBLISHED:
            return None
        if status != contract.VERIFIED:
            raise Conflict(f"Only a verified product can be published; this one is {status}. Verify it first.")
        return {"status": contract.PUBLISHED, "published_at": firestore.SERVER_TIMESTAMP}

    return _apply(product_id, by, PUBLISH, change)


def verify_many(product_ids: Any, threshold: Any, by: Principal) -> dict[str, Any]:
    """Verify every listed product whose category confidence is at least ``threshold``."""
    if not isinstance(product_ids, list) or not all(isinstance(p, str) for p in product_ids):
        raise Invalid("ids must be a list of product ids")
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        raise Invalid("Select at least one product.")
    if len(ids) > MAX_BATCH:
        raise Invalid(f"At most {MAX_BATCH} products at once.")
    limit = _fraction(threshold, "threshold")
    if limit is None:
        raise Invalid("threshold is missing")
    verified: list[str] = []
    unchanged: list[str] = []
    skipped: list[dict[str, str]] = []
    for product_id in ids:
        try:
            outcome = verify(product_id, by, threshold=limit)
        except (Conflict, NotFound) as refusal:
            skipped.append({"product_id": product_id, "reason": refusal.message})
            continue
        (verified if outcome.changed else unchanged).append(product_id)
    return {"threshold": limit, "verified": verified, "unchanged": unchanged, "skipped": skipped}
