"""Dead letters are not a grave: what lands in a dead-letter topic is kept, shown and replayed.

Every dead-letter topic has a pull subscription ``{topic}-dead-letter-sub`` (infra/pubsub.tf;
the local stack creates the same). ``collect`` moves what waits there into Firestore,
``dead_letters/{id}`` with ``status`` ``waiting``, and acknowledges it only once written, so a
crash in between keeps the message; the id derives from the subscription and the message id,
so collecting twice keeps one record. The reconciler collects on every run and re-drives the
uploads among them through ingest; ``fashiontag dead-letters replay``
(``reconciler.replay_dead_letters``) sends any of them on again. Managers see the count of
waiting letters. This module imports nothing of ingest, so the admin bundle can count.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, config, contract, topology

log = logging.getLogger(__name__)

WAITING = "waiting"
REPLAYED = "replayed"
_PULL = 100  # messages per pull; collect pulls until a subscription is empty or this many rounds
_ROUNDS = 10


def sources() -> list[str]:
    """The topics whose dead letters are collected: the contract's and the uploads' notifications."""
    return [*topology.TOPICS, topology.UPLOAD_NOTIFICATIONS]


def subscription(topic: str) -> str:
    return f"{topology.dead_letter(topic)}-sub"


def _letters() -> firestore.CollectionReference:
    return clients.firestore_client().collection(contract.DEAD_LETTERS)


def collect() -> int:
    """Move every message waiting in a dead-letter subscription into Firestore; returns how many."""
    subscriber = clients.subscriber()
    moved = 0
    for topic in sources():
        path = subscriber.subscription_path(config.project(), subscription(topic))
        for _ in range(_ROUNDS):
            try:
                response = clients.pull_at_once(path, _PULL)
            except gexc.NotFound:
                break  # not created (yet): nothing can have landed there
            if not response.received_messages:
                break
            for received in response.received_messages:
                _record(topic, path, received.message)
            subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [r.ack_id for r in response.received_messages]}
            )
            moved += len(response.received_messages)
    if moved:
        log.warning("dead letters: collected %d", moved)
    return moved


def _record(topic: str, subscription_path: str, message: Any) -> None:
    doc = {
        "topic": topic,
        "subscription": subscription_path.rsplit("/", 1)[-1],
        "message_id": message.message_id,
        "data": base64.b64encode(message.data).decode(),
        "attributes": dict(message.attributes),
        "published_at": message.publish_time.isoformat() if message.publish_time else None,
        "status": WAITING,
        "collected_at": firestore.SERVER_TIMESTAMP,
    }
    with_id = _letters().document(contract.derived_id(subscription_path, message.message_id))
    with contextlib.suppress(gexc.AlreadyExists):  # collected before, acknowledged too late: one record
        with_id.create(doc)


def waiting(limit: int = 100) -> list[dict[str, Any]]:
    query = _letters().where(filter=firestore.FieldFilter("status", "==", WAITING)).limit(limit)
    return [{"id": snap.id, **(snap.to_dict() or {})} for snap in query.stream()]


def waiting_count() -> int:
    counted: Any = _letters().where(filter=firestore.FieldFilter("status", "==", WAITING)).count()
    return int(counted.get()[0][0].value)  # the client's stubs miss the nested result type


def upload_data(letter: dict[str, Any]) -> dict[str, Any] | None:
    """The object a dead letter of the uploads' notifications is about (its data is the object
    JSON, locally and from Eventarc's subscription alike); None for any other letter."""
    if letter.get("topic") != topology.UPLOAD_NOTIFICATIONS:
        return None
    try:
        data = json.loads(base64.b64decode(letter.get("data", "")))
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("bucket") and data.get("name") else None


def data_of(letter: dict[str, Any]) -> bytes:
    return base64.b64decode(letter.get("data", ""))


def mark_replayed(letter_id: str) -> None:
    _letters().document(letter_id).update({"status": REPLAYED, "replayed_at": firestore.SERVER_TIMESTAMP})
