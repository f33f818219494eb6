"""Pushes to a recipient's devices, at most once per notification.

A recipient's devices are the ``device_tokens`` of ``users/{uid}``; a role recipient means
every user with that role. With ``FASHIONTAG_PUSH_MODE=fcm`` a push is sent through Firebase
Cloud Messaging; with ``outbox`` (the emulators: Cloud Messaging has none) it is only written
to ``push_outbox/{notification_id}``, the record that also makes it happen once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, config
from fashiontag.contract import PUSH_OUTBOX, ROLE_PREFIX, USERS
from fashiontag.notices import Notice

log = logging.getLogger(__name__)

# Cloud Messaging takes at most 500 tokens per multicast.
_MAX_TOKENS = 500


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


def push(nid: str, notice: Notice) -> int:
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
