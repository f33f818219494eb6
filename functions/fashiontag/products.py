"""Products in Firestore: creation, the processing lease, and terminal states.

At-least-once delivery means several deliveries of one upload may run at once. Each delivery
claims the product with a compare-and-set write; the one holding the unexpired *lease* does the work,
the others wait for it or ask to be retried. A product is finished when its status is
terminal and its event has been published; until then a later delivery can take over.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, config, contract
from fashiontag.contract import RECEIVED
from fashiontag.errors import RetryLater

# Compare-and-set rounds before a contended write gives up and asks Pub/Sub for a retry.
_CAS_ROUNDS = 20


class ClaimState(enum.Enum):
    OWNED = "owned"  # this delivery holds the lease and does the work
    BUSY = "busy"  # another delivery holds an unexpired lease
    DONE = "done"  # terminal and published: nothing left to do


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    doc: dict[str, Any]
    written_at: dt.datetime | None = None  # the update time of this delivery's claiming write


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def product_ref(product_id: str) -> firestore.DocumentReference:
    return clients.firestore_client().collection(contract.PRODUCTS).document(product_id)


def is_finished(doc: dict[str, Any]) -> bool:
    return doc.get("status", RECEIVED) != RECEIVED and bool(doc.get("event", {}).get("published_at"))


def leased(doc: dict[str, Any], owner: str = "") -> bool:
    """Whether a delivery other than ``owner`` holds an unexpired lease on the product."""
    held = doc.get("lease")
    return bool(held and held.get("owner") != owner and held.get("until") and held["until"] > _now())


def _settled(doc: dict[str, Any], owner: str) -> Claim | None:
    """DONE or BUSY when nothing is left for ``owner`` to claim; None when it may claim."""
    if is_finished(doc):
        return Claim(ClaimState.DONE, doc)
    if leased(doc, owner):
        return Claim(ClaimState.BUSY, doc)
    return None


def claim(product_id: str, initial: dict[str, Any], owner: str) -> Claim:
    """Create the product (status ``received``) or take over an abandoned one, atomically.

    Writes are compare-and-set (create-if-absent, update-if-unchanged) rather than transactions:
    the emulator locks pessimistically, and ten deliveries contending in transactions time out
    on its lock instead of one winning (docs/decisions/0002).
    """
    ref = product_ref(product_id)
    lease = {"owner": owner, "until": _now() + dt.timedelta(seconds=config.processing_lease_seconds())}
    new = {
        **initial,
        "status": RECEIVED,
        "lease": lease,
        "attempts": 1,
        "created_at": firestore.SERVER_TIMESTAMP,
        "updated_at": firestore.SERVER_TIMESTAMP,
    }
    for n in range(_CAS_ROUNDS):
        # A first delivery, the usual case, creates the product without reading it first.
        snap = ref.get() if n else None
        if snap is None or not snap.exists:
            try:
                written = ref.create(new)
            except gexc.AlreadyExists:
                continue  # another delivery created it first: look again
            return Claim(ClaimState.OWNED, new, written.update_time)
        doc = snap.to_dict() or {}
        if settled := _settled(doc, owner):
            return settled
        attempts = int(doc.get("attempts", 0)) + 1
        if written_at := _update_if_unchanged(ref, snap.update_time, {"lease": lease, "attempts": attempts}):
            return Claim(ClaimState.OWNED, {**doc, "lease": lease, "attempts": attempts}, written_at)
    raise RetryLater(f"product {product_id} is contended; retry")


def finish(product_id: str, owner: str, fields: dict[str, Any]) -> bool:
    """Write the outcome if this delivery still holds the lease; False when it lost it."""
    ref = product_ref(product_id)
    for _ in range(_CAS_ROUNDS):
        snap = ref.get()
        if (snap.to_dict() or {}).get("lease", {}).get("owner") != owner:
            return False
        if _update_if_unchanged(ref, snap.update_time, fields):
            return True
    raise RetryLater(f"product {product_id} is contended; retry")


def _update_if_unchanged(
    ref: firestore.DocumentReference, since: dt.datetime, fields: dict[str, Any]
) -> dt.datetime | None:
    """Update only if nobody wrote the document after ``since``; the new update time, or None."""
    option = clients.firestore_client().write_option(last_update_time=since)
    try:
        written = ref.update({**fields, "updated_at": firestore.SERVER_TIMESTAMP}, option=option)
    except gexc.FailedPrecondition:
        return None
    return written.update_time


def complete(product_id: str, owner: str, claim: Claim, fields: dict[str, Any], event: dict[str, Any]) -> bool:
    """Write the outcome with its published event and release the lease: the product is finished.

    Nothing else writes a product while a delivery holds its lease, so the outcome is one write
    conditional on the claim's own; only when someone did write (a lease taken over) does it read
    the product to see whether this delivery still owns it.
    """
    event_record = {**event, "published_at": firestore.SERVER_TIMESTAMP}
    outcome = {**fields, "event": event_record, "lease": firestore.DELETE_FIELD}
    if claim.written_at and _update_if_unchanged(product_ref(product_id), claim.written_at, outcome):
        return True
    return finish(product_id, owner, outcome)


def release(product_id: str, owner: str) -> None:
    """Give the lease up after a transient failure, so the retry need not wait for it."""
    finish(product_id, owner, {"lease": firestore.DELETE_FIELD})


def get(product_id: str) -> dict[str, Any] | None:
    snap = product_ref(product_id).get()
    return snap.to_dict() if snap.exists else None


def list_products(status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    query: Any = clients.firestore_client().collection(contract.PRODUCTS)
    if status:
        query = query.where(filter=firestore.FieldFilter("status", "==", status))
    return [{"id": snap.id, **(snap.to_dict() or {})} for snap in query.limit(limit).stream()]
