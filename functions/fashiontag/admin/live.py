"""Live updates for the page: server-sent events fed by Firestore listeners (ADR 0018).

``GET /api/live`` answers ``text/event-stream``. While it is open, Firestore listeners watch
what the caller's page shows: their notifications (to them or their role) and the products of
their view (a seller's own, the managers' open queue, the buyers' catalogue). A change becomes
one event (changes within ``SETTLE_S`` are sent together):

    event: notifications   data: {"unread": N}          (also once at the start)
    event: products        data: {"ids": [...changed ids]}

Every message carries ``id:`` the server's time (epoch ms), also every ``KEEPALIVE_S`` when
nothing happens; the page opens its next stream with ``?since=`` the last id it saw, and the
products changed since then are announced at once, so nothing falls between two streams.

Firestore bills a listener for the documents that change, not for each look, so an open page
costs nothing while nothing happens. A stream lasts ``STREAM_S`` (under the function's
timeout); the page opens the next one at once, and a stream that fails is simply opened again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import queue
import time
from collections.abc import Iterator
from typing import Any

from google.cloud import firestore

from fashiontag import clients, contract
from fashiontag.admin import messaging
from fashiontag.admin.identity import Principal
from fashiontag.admin.listings import OPEN
from fashiontag.contract import BUYER, MANAGER, SELLER

STREAM_S = 50.0  # the admin function's timeout is 60 s (infra/functions.yaml)
KEEPALIVE_S = 15.0
SETTLE_S = 0.3
# How many of the newest documents each listener watches: what the first page shows.
WATCHED = 50


def _notifications(principal: Principal) -> Any:
    to = [principal.uid, f"{contract.ROLE_PREFIX}{principal.role}"]
    query: Any = clients.firestore_client().collection(contract.NOTIFICATIONS)
    query = query.where(filter=firestore.FieldFilter("to", "in", to))
    return query.order_by("created_at", direction=firestore.Query.DESCENDING)


def _sellers_products(principal: Principal) -> Any:
    query: Any = clients.firestore_client().collection(contract.PRODUCTS)
    query = query.where(filter=firestore.FieldFilter("seller_id", "==", principal.uid))
    return query.order_by("created_at", direction=firestore.Query.DESCENDING)


def _open_queue() -> Any:
    # Ordered by a top-level field: the client library's listener cannot sort by a nested one
    # (the queue's confidence), and the most recently changed are the ones to hear about.
    query: Any = clients.firestore_client().collection(contract.PRODUCTS)
    query = query.where(filter=firestore.FieldFilter("status", "in", list(OPEN)))
    return query.order_by("updated_at", direction=firestore.Query.DESCENDING)


def _catalogue() -> Any:
    query = clients.firestore_client().collection(contract.CATALOGUE)
    return query.order_by("updated_at", direction=firestore.Query.DESCENDING)


def _products(principal: Principal) -> Any:
    if principal.role == SELLER:
        return _sellers_products(principal)
    if principal.role == MANAGER:
        return _open_queue()
    if principal.role == BUYER:
        return _catalogue()
    return None


def _event(kind: str, data: dict[str, Any]) -> str:
    return f"{_now_id()}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _changed_since(doc: firestore.DocumentSnapshot, since: dt.datetime) -> bool:
    at = (doc.to_dict() or {}).get("updated_at")
    return isinstance(at, dt.datetime) and at > since


def _now_id() -> str:
    """An event id: the server's time in epoch ms, which the page sends back as ``since``."""
    return f"id: {int(time.time() * 1000)}\n"


def stream(principal: Principal, since: dt.datetime | None = None, seconds: float | None = None) -> Iterator[str]:
    """The event stream of one open page, for ``seconds`` (``STREAM_S``).

    ``since``: the time of the last event id the page saw on its previous stream; products
    changed after it are announced at the start, so nothing that changed between two streams
    goes unnoticed.
    """
    changes: queue.Queue[tuple[str, list[str]]] = queue.Queue()
    opened: queue.Queue[str] = queue.Queue()

    def listener(kind: str) -> Any:
        first = True

        def changed(docs: Any, moves: Any, _read_time: Any) -> None:
            nonlocal first
            if first:  # the state the page shows already, but for what changed since its last stream
                first = False
                changes.put((kind, [d.id for d in docs if since is not None and _changed_since(d, since)]))
                opened.put(kind)
                return
            changes.put((kind, [move.document.id for move in moves]))

        return changed

    queries = {"notifications": _notifications(principal), "products": _products(principal)}
    watches = [q.limit(WATCHED).on_snapshot(listener(kind)) for kind, q in queries.items() if q is not None]
    try:
        yield f"retry: 3000\n{_now_id()}\n"
        deadline = time.monotonic() + (STREAM_S if seconds is None else seconds)
        # The first message (the unread count) says that every listener is in place: whatever
        # changes from then on is announced.
        with contextlib.suppress(queue.Empty):  # a listener that never starts: the stream ends
            for _ in watches:
                opened.get(timeout=max(0.1, deadline - time.monotonic()))
        while (left := deadline - time.monotonic()) > 0:
            try:
                kind, ids = changes.get(timeout=min(KEEPALIVE_S, left))
            except queue.Empty:
                yield f": keep-alive\n{_now_id()}\n"
                continue
            batch: dict[str, set[str]] = {kind: set(ids)}
            settle = time.monotonic() + SETTLE_S
            while (wait := settle - time.monotonic()) > 0:
                try:
                    more_kind, more_ids = changes.get(timeout=wait)
                except queue.Empty:
                    break
                batch.setdefault(more_kind, set()).update(more_ids)
            if "notifications" in batch:
                yield _event("notifications", {"unread": messaging.unread_count(principal)})
            if batch.get("products"):
                yield _event("products", {"ids": sorted(batch["products"])})
    finally:
        for watch in watches:
            watch.unsubscribe()
