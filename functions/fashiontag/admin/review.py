"""Managers' review of products: corrections, verification and publication.

Every change is one Firestore transaction that updates the product and creates its history
entry ``products/{id}/history/{n}`` ``{by, at, action, before, after}``, where ``n`` is the
product's ``history_count`` after the change, so entries are numbered without gaps. After the
transaction the change is announced on ``product-events`` (``product.reviewed`` for edits and
verification, ``product.published``) with the event id ``{type}:{product}:{n}``. A retried
request finds the change already made: it writes nothing and announces entry ``n`` again
under the same event id, which consumers drop as a duplicate. A change that leaves the product
published also writes its buyers' view ``catalogue/{id}`` in the same transaction. What the page reads is in
``listings``; what a specification may hold, in ``specs``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from fashiontag import clients, contract, events, products
from fashiontag.admin import catalogue
from fashiontag.admin.errors import Conflict, Invalid, NotFound
from fashiontag.admin.identity import Principal
from fashiontag.admin.listings import EDITABLE, OPEN, check_id, confidence
from fashiontag.admin.params import fraction
from fashiontag.admin.specs import colour_names, validate_spec
from fashiontag.contract import HISTORY

EDIT, VERIFY, PUBLISH = "edit", "verify", "publish"
EVENT_OF = {EDIT: contract.PRODUCT_REVIEWED, VERIFY: contract.PRODUCT_REVIEWED, PUBLISH: contract.PRODUCT_PUBLISHED}
MAX_BATCH = 200
_TXN_ATTEMPTS = 30


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
        # Who reviewed it is in the history, which only managers read; the seller reads this
        # document, so it says when and what, not who.
        review = {"action": action, "at": firestore.SERVER_TIMESTAMP}
        after = {**doc, **fields}
        txn.update(ref, {**fields, "review": review, "history_count": n, "updated_at": firestore.SERVER_TIMESTAMP})
        if after.get("status") == contract.PUBLISHED:
            txn.set(catalogue.ref(product_id), catalogue.entry(after))
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
    limit = fraction(threshold, "threshold")
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
