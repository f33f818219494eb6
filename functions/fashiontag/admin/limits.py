"""How much each user may create: messages, notifications, upload sessions (a batch of photos).

A fixed window per user and kind, counted in Firestore (``rate_limits/{kind}:{uid}``, which no
client may read or write: the rules deny every path they do not name), so that every admin
instance sees the same count. A refusal is a 429 that says when to try again. The limits are
far above what a person at the page does (a seller's batch is at most 50 photos) and well
below what a script would send. A retried request (same request id) counts again: the limits
leave room for that.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from fashiontag import clients, contract
from fashiontag.admin.errors import TooMany
from fashiontag.admin.identity import Principal


@dataclass(frozen=True)
class Limit:
    count: int
    window_s: int
    what: str  # for the refusal: "You have sent 30 messages in 10 minutes"


LIMITS = {
    "message": Limit(30, 600, "messages"),
    "notification": Limit(60, 600, "notifications"),
    "upload_session": Limit(40, 600, "batches of photos"),
}


def spend(principal: Principal, kind: str) -> None:
    """Count one ``kind`` for ``principal``, or refuse with ``TooMany`` when the window is full."""
    limit = LIMITS[kind]
    db = clients.firestore_client()
    ref = db.collection(contract.RATE_LIMITS).document(f"{kind}:{principal.uid}")

    @firestore.transactional
    def take(transaction: Any) -> float:
        now = dt.datetime.now(dt.UTC)
        doc = ref.get(transaction=transaction).to_dict() or {}
        start, used = doc.get("window_start"), int(doc.get("count", 0))
        if not start or (now - start).total_seconds() >= limit.window_s:
            start, used = now, 0
        if used >= limit.count:
            return limit.window_s - (now - start).total_seconds()
        # expires_at: a TTL policy on the field may delete old windows (infra/firestore.tf).
        expires = start + dt.timedelta(seconds=limit.window_s)
        transaction.set(ref, {"window_start": start, "count": used + 1, "expires_at": expires})
        return 0.0

    wait_s = take(db.transaction())
    if wait_s > 0:
        minutes = limit.window_s // 60
        raise TooMany(
            f"You have sent {limit.count} {limit.what} in {minutes} minutes, the most we take; "
            f"try again in {math.ceil(wait_s / 60)} minute(s).",
            math.ceil(wait_s),
        )
