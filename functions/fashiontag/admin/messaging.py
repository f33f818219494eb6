"""Messages between people, managers' notices, and reading notifications.

- ``messages/{id}`` ``{from, from_role, to, product_id, text, created_at}``; ``to`` is a uid or
  ``role:manager``. Buyers' feedback is a message to ``role:manager`` about a product. Every
  message is announced as ``message.sent`` on message-events; notify turns it into a
  notification for its addressee.
- Managers also write ``notifications/{id}`` directly (kind ``manager.notice``).

Ids derive from the sender and the ``request_id`` the page sends with each form, so a retried
request creates nothing twice and announces the same event id again.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from fashiontag import clients, contract, events
from fashiontag.admin import identity, limits, listings
from fashiontag.admin.errors import Forbidden, Invalid, NotFound
from fashiontag.admin.identity import Principal
from fashiontag.contract import BUYER, MANAGER, MANAGERS, MESSAGES, NOTIFICATIONS, ROLE_PREFIX, SELLER

MAX_TEXT = 2000
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


def _by_time(rows: list[dict[str, Any]], field: str = "created_at") -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: str(r.get(field, "")), reverse=True)


def _where(collection: str, field: str, value: str, limit: int) -> list[dict[str, Any]]:
    query = _db().collection(collection).where(filter=firestore.FieldFilter(field, "==", value)).limit(limit)
    return [{"id": snap.id, **(snap.to_dict() or {})} for snap in query.stream()]


def messages_for(principal: Principal, from_role: str = "", limit: int = 200) -> list[dict[str, Any]]:
    """Managers read every message (optionally only those from one role); others their own."""
    if principal.role == MANAGER:
        query: Any = _db().collection(MESSAGES)
        if from_role:
            if from_role not in contract.ROLES:
                raise Invalid(f"'{from_role}' is not a role")
            query = query.where(filter=firestore.FieldFilter("from_role", "==", from_role))
        else:
            query = query.order_by("created_at", direction=firestore.Query.DESCENDING)
        return _by_time([{"id": s.id, **(s.to_dict() or {})} for s in query.limit(limit).stream()])
    rows = {m["id"]: m for m in _where(MESSAGES, "from", principal.uid, limit)}
    rows.update({m["id"]: m for m in _where(MESSAGES, "to", principal.uid, limit)})
    return _by_time(list(rows.values()))[:limit]


def notifications_for(principal: Principal, limit: int = 100) -> list[dict[str, Any]]:
    """The caller's notifications: addressed to them, or to their role; ``read`` as they see it."""
    rows = _where(NOTIFICATIONS, "to", principal.uid, limit)
    rows += _where(NOTIFICATIONS, "to", f"{ROLE_PREFIX}{principal.role}", limit)
    # read_by names everyone of the role who read it: each member sees only their own state.
    shown = ({k: v for k, v in row.items() if k != "read_by"} | {"read": is_read(row, principal.uid)} for row in rows)
    return _by_time(list(shown))[:limit]


def is_read(notification: dict[str, Any], uid: str) -> bool:
    """A personal notification has one ``read`` flag; one addressed to a role is read by each
    member for themself (``read_by.{uid}``), so one manager opening it hides it from no other."""
    if str(notification.get("to", "")).startswith(ROLE_PREFIX):
        return uid in (notification.get("read_by") or {})
    return bool(notification.get("read"))


def mark_read(principal: Principal, notification_id: str) -> None:
    if not re.match(r"^[A-Za-z0-9_-]{1,128}$", notification_id or ""):
        raise NotFound("No such notification.")
    ref = _db().collection(NOTIFICATIONS).document(notification_id)
    snap = ref.get()
    doc = snap.to_dict() or {}
    if not snap.exists or doc.get("to") not in (principal.uid, f"{ROLE_PREFIX}{principal.role}"):
        raise NotFound("No such notification.")
    if is_read(doc, principal.uid):
        return
    if doc.get("to") == principal.uid:
        ref.update({"read": True, "read_at": firestore.SERVER_TIMESTAMP})
    else:
        ref.update({FieldPath("read_by", principal.uid).to_api_repr(): firestore.SERVER_TIMESTAMP})


def mark_all_read(principal: Principal) -> int:
    """Mark every notification the caller can see as read by them; returns how many changed."""
    unread = [n for n in notifications_for(principal, limit=500) if not n["read"]]
    for notification in unread:
        mark_read(principal, notification["id"])
    return len(unread)


def recent_messages(limit: int = 100) -> list[dict[str, Any]]:
    query = _db().collection(MESSAGES).order_by("created_at", direction=firestore.Query.DESCENDING).limit(limit)
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream()]
