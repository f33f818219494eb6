"""Messages between people, managers' notices, and reading notifications.

- ``messages/{id}`` ``{from, from_role, to, product_id, text, created_at}``; ``to`` is a uid or
  ``role:manager``. Buyers' feedback is a message to ``role:manager`` about a product. Every
  message is announced as ``message.sent`` on message-events; notify turns it into a
  notification for its addressee.
- Managers also write ``notifications/{id}`` directly (kind ``manager.notice``).

Ids derive from the sender and the ``request_id`` the page sends with each form, so a retried
request creates nothing twice and announces the same event id again. Lists come a page at a
time (``pages``); sellers and buyers see a message's other side by name and role only.
A notification addressed to a role is marked read per person in ``notifications/{id}/reads/{uid}``.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, contract, events
from fashiontag.admin import identity, limits, listings, pages
from fashiontag.admin.errors import Forbidden, Invalid, NotFound
from fashiontag.admin.identity import Principal
from fashiontag.contract import BUYER, MANAGER, MANAGERS, MESSAGES, NOTIFICATIONS, READS, ROLE_PREFIX, SELLER

MAX_TEXT = 2000
_ROLE_NAMES = {MANAGER: "a manager", SELLER: "a seller", BUYER: "a buyer"}
PAGE_SIZE = 30
# Unread notifications are counted (and marked read all at once) among this many of each kind.
UNREAD_SCAN = 500
MAX_TITLE = 120
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _db() -> firestore.Client:
    return clients.firestore_client()


def _request_id(value: Any) -> str:
    if value is None or value == "":
        return uuid.uuid4().hex
    if not isinstance(value, str) or not _REQUEST_ID.match(value):
        raise Invalid("request_id must be 8 to 64 letters, digits, '-' or '_'")
    return value


_DIRECTION_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"Write a {name} first.")
    text = value.strip()
    if len(text) > limit:
        raise Invalid(f"The {name} is too long ({len(text)} characters; at most {limit}).")
    if _DIRECTION_CONTROLS.search(text):
        # U+202E turns "rlo\u202egnp.exe" into "rloexe.png" on screen: text that lies about itself.
        raise Invalid(f"The {name} holds invisible characters that reorder the text around them; remove them.")
    return text


def _recipient(principal: Principal, to: Any) -> str:
    """Who a message may go to: sellers and buyers write to the managers; managers to anyone."""
    if principal.role != MANAGER:
        if to not in (None, "", MANAGERS):
            raise Forbidden("Sellers and buyers can write to the managers only.")
        return MANAGERS
    if to == MANAGERS:
        return MANAGERS
    if not isinstance(to, str) or identity.get_user(to) is None:
        raise Invalid("Choose who the message is for.")
    return to


def _product_for(principal: Principal, product_id: Any) -> str | None:
    """The product a message is about, if the sender may talk about it."""
    if product_id in (None, ""):
        return None
    if not isinstance(product_id, str):
        raise Invalid("product_id must be a product id")
    product = listings.get_product(product_id)  # NotFound for an unknown id
    if principal.role == SELLER and product.get("seller_id") != principal.uid:
        raise NotFound("No such product.")
    if principal.role == BUYER and product.get("status") != contract.PUBLISHED:
        raise NotFound("No such product.")
    return product_id


def send_message(
    principal: Principal, to: Any, text: Any, product_id: Any = None, request_id: Any = None
) -> dict[str, Any]:
    recipient = _recipient(principal, to)
    body = _text(text, "message", MAX_TEXT)
    about = _product_for(principal, product_id)
    message_id = contract.derived_id("message", principal.uid, _request_id(request_id))
    limits.spend(principal, "message")
    # Who sent it as the users record says (a manager keeps it), not as the token says: a user
    # can change the email in their own account, and with it the token.
    record = identity.get_user(principal.uid) or {}
    doc = {
        "from": principal.uid,
        "from_email": record.get("email") or "",
        "from_name": record.get("display_name") or record.get("email") or principal.role,
        "from_role": principal.role,
        "to": recipient,
        "product_id": about,
        "text": body,
        "created_at": firestore.SERVER_TIMESTAMP,
    }
    ref = _db().collection(MESSAGES).document(message_id)
    try:
        ref.create(doc)
    except gexc.AlreadyExists:
        doc = ref.get().to_dict() or doc  # a retried request: announce what was stored
    payload = {key: doc.get(key) for key in ("from", "from_role", "to", "product_id", "text")}
    events.publish(
        contract.TOPIC_MESSAGE_EVENTS,
        contract.MESSAGE_SENT,
        f"message.sent:{message_id}",
        {
            "message_id": message_id,
            **payload,
        },
    )
    return {"message_id": message_id, **payload}


def send_notice(
    principal: Principal, to: Any, title: Any, body: Any, product_id: Any = None, request_id: Any = None
) -> dict[str, Any]:
    """A manager's notification, written directly (no event)."""
    identity.require(principal, MANAGER)
    if isinstance(to, str) and to.startswith(ROLE_PREFIX):
        if to[len(ROLE_PREFIX) :] not in contract.ROLES:
            raise Invalid(f"'{to}' is not a role")
    elif not isinstance(to, str) or identity.get_user(to) is None:
        raise Invalid("Choose who the notification is for.")
    about = _product_for(principal, product_id)
    notification_id = contract.derived_id(contract.MANAGER_NOTICE, principal.uid, _request_id(request_id))
    title, body = _text(title, "title", MAX_TITLE), _text(body, "notification", MAX_TEXT)
    limits.spend(principal, "notification")
    doc = {
        "to": to,
        "kind": contract.MANAGER_NOTICE,
        "title": title,
        "body": body,
        "product_id": about,
        "read": False,
        "from": principal.uid,
        "created_at": firestore.SERVER_TIMESTAMP,
    }
    with contextlib.suppress(gexc.AlreadyExists):  # a retried request
        _db().collection(NOTIFICATIONS).document(notification_id).create(doc)
    return {"notification_id": notification_id, "to": to}


def _messages_of_role(from_role: str) -> Any:
    query: Any = _db().collection(MESSAGES)
    if from_role:
        query = query.where(filter=firestore.FieldFilter("from_role", "==", from_role))
    return query.order_by("created_at", direction=firestore.Query.DESCENDING)


def _messages_from(uid: str) -> Any:
    query = _db().collection(MESSAGES).where(filter=firestore.FieldFilter("from", "==", uid))
    return query.order_by("created_at", direction=firestore.Query.DESCENDING)


def _messages_to(uid: str) -> Any:
    query = _db().collection(MESSAGES).where(filter=firestore.FieldFilter("to", "==", uid))
    return query.order_by("created_at", direction=firestore.Query.DESCENDING)


def _created(row: dict[str, Any]) -> Any:
    return row.get("created_at")


def messages_for(principal: Principal, from_role: str = "", limit: int = PAGE_SIZE, after: str = "") -> pages.Page:
    """A page of messages, newest first: managers read every one (or those from one role),
    others those they sent or received."""
    if from_role and from_role not in contract.ROLES:
        raise Invalid(f"'{from_role}' is not a role")
    in_messages = pages.in_collection(MESSAGES)
    if principal.role == MANAGER:
        query = _messages_of_role(from_role)
        start = pages.after(after, in_messages)
        if start is not None:
            query = query.start_after(start)
        return pages.collect(query.limit(limit + 1).stream(), limit)
    sources = [
        pages.Source("sent", lambda: _messages_from(principal.uid), in_messages, _created),
        pages.Source("received", lambda: _messages_to(principal.uid), in_messages, _created),
    ]
    page = pages.merge(sources, limit, after)
    return pages.Page([_as_seen_by(principal, m) for m in page.rows], page.next)


def _as_seen_by(principal: Principal, message: dict[str, Any]) -> dict[str, Any]:
    """A message as a seller or buyer sees it: who wrote it by name and role, never another
    person's uid or email."""
    mine = message.get("from") == principal.uid
    name = str(message.get("from_name") or "")
    if not name or "@" in name:  # no display name: the stored fallback is an email, not for them
        name = _ROLE_NAMES.get(str(message.get("from_role")), "someone")
    return {
        "id": message["id"],
        "mine": mine,
        "from_name": "you" if mine else name,
        "from_role": message.get("from_role"),
        "to": "the managers" if message.get("to") == MANAGERS else "you",
        "product_id": message.get("product_id"),
        "text": message.get("text"),
        "created_at": message.get("created_at"),
    }


def _addressed_to(principal: Principal) -> Any:
    to = [principal.uid, f"{ROLE_PREFIX}{principal.role}"]
    query = _db().collection(NOTIFICATIONS).where(filter=firestore.FieldFilter("to", "in", to))
    return query.order_by("created_at", direction=firestore.Query.DESCENDING)


def _read_marks(principal: Principal, rows: list[dict[str, Any]]) -> set[str]:
    """The ids among ``rows`` addressed to a role that this person has read (one batched get)."""
    shared = [r["id"] for r in rows if str(r.get("to", "")).startswith(ROLE_PREFIX)]
    refs = [_db().collection(NOTIFICATIONS).document(n).collection(READS).document(principal.uid) for n in shared]
    return {snap.reference.parent.parent.id for snap in _db().get_all(refs) if snap.exists} if refs else set()


def notifications_for(principal: Principal, limit: int = PAGE_SIZE, after: str = "") -> pages.Page:
    """A page of the caller's notifications (addressed to them or to their role), newest first,
    each with ``read`` as this person sees it."""
    query = _addressed_to(principal)
    start = pages.after(after, pages.in_collection(NOTIFICATIONS))
    if start is not None:
        query = query.start_after(start)
    page = pages.collect(query.limit(limit + 1).stream(), limit)
    marks = _read_marks(principal, page.rows)
    for row in page.rows:
        shared = str(row.get("to", "")).startswith(ROLE_PREFIX)
        row["read"] = row["id"] in marks if shared else bool(row.get("read"))
    return page


def _unread(principal: Principal, scan: int) -> list[dict[str, Any]]:
    """The caller's unread notifications among the newest ``scan`` of each kind: their id and
    ``to``, all that counting and marking them needs."""
    personal = (
        _db()
        .collection(NOTIFICATIONS)
        .where(filter=firestore.FieldFilter("to", "==", principal.uid))
        .where(filter=firestore.FieldFilter("read", "==", False))
        .select(["to"])
        .limit(scan)
    )
    rows = [{"id": s.id, **(s.to_dict() or {})} for s in personal.stream()]
    shared = (
        _db()
        .collection(NOTIFICATIONS)
        .where(filter=firestore.FieldFilter("to", "==", f"{ROLE_PREFIX}{principal.role}"))
        .select(["to"])
    )
    shared = shared.order_by("created_at", direction=firestore.Query.DESCENDING).limit(scan)
    role_rows = [{"id": s.id, **(s.to_dict() or {})} for s in shared.stream()]
    marks = _read_marks(principal, role_rows)
    return rows + [r for r in role_rows if r["id"] not in marks]


def unread_count(principal: Principal) -> int:
    """How many notifications the caller has not read (counted among the newest ``UNREAD_SCAN``)."""
    return len(_unread(principal, UNREAD_SCAN))


def mark_read(principal: Principal, notification_id: str) -> None:
    if not contract.valid_id(notification_id):
        raise NotFound("No such notification.")
    ref = _db().collection(NOTIFICATIONS).document(notification_id)
    snap = ref.get()
    doc = snap.to_dict() or {}
    if not snap.exists or doc.get("to") not in (principal.uid, f"{ROLE_PREFIX}{principal.role}"):
        raise NotFound("No such notification.")
    _mark(ref, doc, principal).commit()


def _mark(ref: Any, doc: dict[str, Any], principal: Principal, batch: Any = None) -> Any:
    """Adds marking one notification read to ``batch``: a personal one's ``read`` flag; for one
    addressed to a role, this person's own mark ``reads/{uid}``, so one manager opening it hides
    it from no other and no member learns who else read it."""
    batch = _db().batch() if batch is None else batch
    if doc.get("to") == principal.uid:
        batch.update(ref, {"read": True, "read_at": firestore.SERVER_TIMESTAMP})
    else:
        batch.set(ref.collection(READS).document(principal.uid), {"at": firestore.SERVER_TIMESTAMP})
    return batch


def mark_all_read(principal: Principal) -> int:
    """Mark the caller's unread notifications read (the newest ``UNREAD_SCAN`` of each kind)."""
    unread = _unread(principal, UNREAD_SCAN)
    notifications = _db().collection(NOTIFICATIONS)
    for chunk in range(0, len(unread), 250):  # a batch holds up to 500 writes
        batch = _db().batch()
        for row in unread[chunk : chunk + 250]:
            _mark(notifications.document(row["id"]), row, principal, batch)
        batch.commit()
    return len(unread)
