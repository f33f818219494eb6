"""Domain events -> ``notifications/{id}`` for the people concerned, and pushes to their devices.

``handle_message`` is what notify calls for each Pub/Sub message on product-events,
model-events and message-events. Delivery is at least once, also concurrently, so every write
is a ``create()`` of a document whose id derives from (event id, recipient): the first delivery
creates it (all of an event's in one commit), every other one finds it there (AlreadyExists)
and counts that as done. A message that can never be handled (not JSON, no type, missing
fields) is logged and acknowledged; Firestore errors propagate, so Pub/Sub delivers the message
again.

A seller's notice of a photo from a batch of several (``Notice.batch``) is folded instead into
the batch's one notification, ``notifications/{contract.batch_notification_id(batch, seller)}``,
in a transaction: the outcome is keyed by product, so a redelivery (or another event about the
same product) counts nothing twice, and concurrent deliveries for photos of the same batch
lose nothing. Each change rewords it and sets it unread again. Its push goes out once, when
the batch is complete (the push record's id is the notification's, created once), not per photo.

Who hears of what, and what they read, is ``notices`` (its ``ROUTES`` is the table).
Pushes to the recipients' devices are ``pushes``. This module never imports TensorFlow or LiteRT.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, contract, notices, pubsub, pushes
from fashiontag.contract import NOTIFICATIONS
from fashiontag.notices import Notice
from fashiontag.pubsub import Event, Malformed

log = logging.getLogger(__name__)

# Concurrent deliveries for the photos of one batch contend for its notification; the emulator
# locks pessimistically, so a contended transaction needs more attempts than the default five.
_TXN_ATTEMPTS = 30


@dataclass(frozen=True)
class Outcome:
    """What one delivery did: for logs and tests."""

    status: str  # "notified" | "ignored" | "malformed"
    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    pushes: int = 0
    updated: tuple[str, ...] = ()  # batch notifications this delivery changed (not created)


def handle_message(data: Any) -> Outcome:
    """Handle one ``messagePublished`` CloudEvent's data; raises only what should be retried."""
    try:
        event = pubsub.decode(data)
        if event.type not in notices.ROUTES:
            log.info("notify: no notifications for event type %s (%s)", event.type, event.event_id)
            return Outcome("ignored")
        product = _product(event) if event.type in notices.NEEDS_PRODUCT else None
        wanted = notices.notices_for(event, product)
    except Malformed as error:
        log.error("notify: dropping a malformed message: %s", error)
        return Outcome("malformed")
    created: list[str] = []
    existing: list[str] = []
    updated: list[str] = []
    pushed = 0
    for notice in wanted:
        if notice.batch is not None:
            nid, change, state = _fold_into_batch(notice.to, notice.batch)
            {"created": created, "updated": updated, "unchanged": existing}[change].append(nid)
            if notices.batch_complete(state):
                # Also when unchanged: the delivery that completed it may have died before pushing.
                pushed += pushes.push(nid, notices.batch_notice(notice.to, state))
    plain = {contract.notification_id(event.event_id, n.to): n for n in wanted if n.batch is None}
    for nid, was_created in _create_notifications(event, plain).items():
        (created if was_created else existing).append(nid)
        # Also after AlreadyExists: the delivery that created it may have died before pushing.
        pushed += pushes.push(nid, plain[nid])
    log.info(
        "notify: %s %s -> %d new, %d updated, %d already there, %d pushes",
        event.type,
        event.event_id,
        len(created),
        len(updated),
        len(existing),
        pushed,
    )
    return Outcome("notified", tuple(created), tuple(existing), pushed, tuple(updated))


def _product(event: Event) -> dict[str, Any] | None:
    product_id = event.payload.get("product_id")
    if not isinstance(product_id, str) or not product_id or "/" in product_id:
        return None  # the wording does without it; the recipient check happens later
    snap = clients.firestore_client().collection(contract.PRODUCTS).document(product_id).get()
    return snap.to_dict() if snap.exists else None


def _create_notifications(event: Event, wanted: dict[str, Notice]) -> dict[str, bool]:
    """Create each notification of ``wanted`` (by id); True for those this delivery created.

    A first delivery creates them all in one commit; when any exists already (a redelivery,
    which fails that commit as a whole), each is created on its own.
    """
    client = clients.firestore_client()
    if len(wanted) > 1:
        batch = client.batch()
        for nid, notice in wanted.items():
            batch.create(client.collection(NOTIFICATIONS).document(nid), _notification(event, notice))
        try:
            batch.commit()
        except gexc.AlreadyExists:
            pass
        else:
            return dict.fromkeys(wanted, True)
    result = {}
    for nid, notice in wanted.items():
        try:
            client.collection(NOTIFICATIONS).document(nid).create(_notification(event, notice))
            result[nid] = True
        except gexc.AlreadyExists:
            result[nid] = False
    return result


def _notification(event: Event, notice: Notice) -> dict[str, Any]:
    return {
        "to": notice.to,
        "kind": notice.kind,
        "title": notice.title,
        "body": notice.body,
        "product_id": notice.product_id,
        "read": False,
        "created_at": firestore.SERVER_TIMESTAMP,
        "event_id": event.event_id,
    }


def _fold_into_batch(to: str, entry: notices.BatchEntry) -> tuple[str, str, dict[str, Any]]:
    """Fold one photo into its batch's notification for ``to``, in a transaction.

    Returns (notification id, "created" | "updated" | "unchanged", the batch map as it is now).
    """
    nid = contract.batch_notification_id(entry.batch.id, to)
    ref = clients.firestore_client().collection(NOTIFICATIONS).document(nid)

    @firestore.transactional
    def run(txn: firestore.Transaction) -> tuple[str, dict[str, Any]]:
        snap = ref.get(transaction=txn)
        doc = (snap.to_dict() or {}) if snap.exists else None
        stored = (doc or {}).get("batch")
        state = notices.fold(stored, entry)
        if state is None:
            return "unchanged", dict(stored or {})
        notice = notices.batch_notice(to, state)
        fields = {
            "title": notice.title,
            "body": notice.body,
            "batch": state,
            "read": False,
            "updated_at": firestore.SERVER_TIMESTAMP,
        }
        if doc is None:
            txn.create(
                ref,
                {
                    "to": to,
                    "kind": notice.kind,
                    "product_id": None,
                    "created_at": firestore.SERVER_TIMESTAMP,
                    **fields,
                },
            )
            return "created", state
        txn.update(ref, {**fields, "read_at": firestore.DELETE_FIELD})  # unread again: news came
        return "updated", state

    change, state = run(clients.firestore_client().transaction(max_attempts=_TXN_ATTEMPTS))
    return nid, change, state
