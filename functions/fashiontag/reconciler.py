"""Nothing lost: uploads without a finished product are driven through ingest again.

Retries end: Eventarc's after its last attempt (the message goes to a dead-letter topic), the
local emulator's after a few seconds. A scheduled run (functions/reconcile, every few minutes;
the local stack every few seconds) looks at

- uploads under ``uploads/``, one page of at most ``max_objects`` per run from a cursor that
  wraps around, so consecutive runs sweep the whole bucket; only those older than ``grace_s``
  (their delivery may still be running) and younger than ``window_days``;
- products still ``received``: a delivery that died holding the lease, once it has expired;
- dead letters (fashiontag.dead_letters): collected into Firestore; those of uploads are
  re-driven here, the others wait for ``fashiontag dead-letters replay`` (``replay_dead_letters``).

Each upload goes through ``ingest.handle_finalized``, the path on_upload takes, whose lease
makes it safe beside normal deliveries and beside another reconciler run: a product someone
else is working on is skipped, never processed twice.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from google.cloud import firestore

from fashiontag import clients, config, contract, dead_letters, events, products
from fashiontag.errors import RetryLater
from fashiontag.ingest import StorageObject, handle_finalized

log = logging.getLogger(__name__)

_BATCH = 100  # product documents read per get_all


@dataclass
class Report:
    """What one run found and did (logged, returned by the function and the CLI)."""

    listed: int = 0
    examined: int = 0
    finished: int = 0
    busy: int = 0
    failed: int = 0
    redriven: collections.Counter[str] = field(default_factory=collections.Counter)
    dead_letters: int = 0
    wrapped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "examined": self.examined,
            "finished": self.finished,
            "busy": self.busy,
            "failed": self.failed,
            "redriven": dict(self.redriven),
            "dead_letters": self.dead_letters,
            "wrapped": self.wrapped,
        }


def reconcile(now: dt.datetime | None = None) -> Report:
    """One run: find every upload that should have a finished product and lacks one; re-drive it."""
    limits = config.reconciling()
    now = now or dt.datetime.now(dt.UTC)
    report = Report()
    report.dead_letters = dead_letters.collect()
    candidates: dict[str, StorageObject] = {}
    for listed in _listed_uploads(report, limits.max_objects):
        if limits.grace_s <= listed.age_s(now) <= limits.window_days * 86400:
            candidates[_product_id(listed.storage)] = listed.storage
    for obj in _received_products(limits.max_objects):
        candidates.setdefault(_product_id(obj), obj)
    report.examined = len(candidates)
    for product_id, doc in _documents(candidates):
        if doc is not None and products.is_finished(doc):
            report.finished += 1
        elif doc is not None and products.leased(doc):
            report.busy += 1  # a delivery is working on it right now
        else:
            _redrive(candidates[product_id], report)
    for letter in dead_letters.waiting():
        if (data := dead_letters.upload_data(letter)) is not None:
            obj = StorageObject.from_event_data(data)
            _redrive(obj, report)
            if products.is_finished(products.get(_product_id(obj)) or {}):
                dead_letters.mark_replayed(letter["id"])
    log.info("reconcile: %s", report.as_dict())
    return report


def replay_dead_letters(limit: int = 100) -> list[dict[str, str]]:
    """Send every waiting dead letter on again: an upload through ingest, any other message
    published again, as it was, to its topic (consumers drop a duplicate by its ``event_id``).
    Returns what became of each; a failed one stays waiting."""
    done = []
    for letter in dead_letters.waiting(limit):
        data = dead_letters.upload_data(letter)
        try:
            if data is not None:
                outcome = handle_finalized(StorageObject.from_event_data(data))
            else:
                message_id = events.republish(
                    letter["topic"], dead_letters.data_of(letter), letter.get("attributes") or {}
                )
                outcome = f"republished as {message_id}"
        except Exception as error:  # reported; the next replay tries it again
            log.exception("dead letters: replaying %s failed", letter["id"])
            outcome = f"failed: {error}"
        else:
            dead_letters.mark_replayed(letter["id"])
        done.append({"id": letter["id"], "topic": str(letter.get("topic", "")), "outcome": outcome})
    return done


def _redrive(obj: StorageObject, report: Report) -> None:
    try:
        report.redriven[handle_finalized(obj)] += 1
    except RetryLater:
        report.busy += 1
    except Exception:  # one bad upload must not stop the run; the next run tries it again
        log.exception("reconcile: re-driving %s failed", obj.name)
        report.failed += 1


def _product_id(obj: StorageObject) -> str:
    return contract.product_id(obj.bucket, obj.name, obj.generation)


@dataclass(frozen=True)
class _Listed:
    storage: StorageObject
    created: dt.datetime

    def age_s(self, now: dt.datetime) -> float:
        return (now - self.created).total_seconds()


def _cursor() -> firestore.DocumentReference:
    return clients.firestore_client().collection(contract.RECONCILER).document("cursor")


def _listed_uploads(report: Report, max_objects: int) -> Iterator[_Listed]:
    """One page of uploads after the cursor; the cursor moves past it (back to the start at the end)."""
    bucket = config.upload_bucket()
    after = (_cursor().get().to_dict() or {}).get("after", "")
    blobs = clients.storage_client().list_blobs(
        bucket,
        prefix=contract.UPLOAD_PREFIX,
        start_offset=after + "\0" if after else None,  # strictly after the last name seen
        max_results=max_objects,
    )
    last = ""
    for blob in blobs:
        last = blob.name
        report.listed += 1
        if contract.seller_of(blob.name) is None or blob.time_created is None:
            continue
        yield _Listed(
            StorageObject(
                bucket,
                blob.name,
                str(blob.generation),
                blob.content_type or "",
                int(blob.size or 0),
                contract.batch_from_metadata(blob.metadata),  # listed with the object: no call of its own
            ),
            blob.time_created,
        )
    report.wrapped = report.listed < max_objects
    # Two runs at once may both move it; either value only changes where the next run starts.
    _cursor().set({"after": "" if report.wrapped else last, "at": firestore.SERVER_TIMESTAMP})


def _received_products(limit: int) -> Iterator[StorageObject]:
    """Uploads whose product is still ``received`` (its delivery died or is running)."""
    query = (
        clients.firestore_client()
        .collection(contract.PRODUCTS)
        .where(filter=firestore.FieldFilter("status", "==", contract.RECEIVED))
        .limit(limit)
    )
    for snap in query.stream():
        image = (snap.to_dict() or {}).get("image") or {}
        if image.get("bucket") and image.get("name"):
            yield StorageObject.from_event_data(
                {
                    "bucket": image["bucket"],
                    "name": image["name"],
                    "generation": image.get("generation", ""),
                    "contentType": image.get("content_type", ""),
                    "size": image.get("bytes", 0),
                }
            )


def _documents(candidates: dict[str, StorageObject]) -> Iterable[tuple[str, dict[str, Any] | None]]:
    """(product id, its document or None) for every candidate, read in batches."""
    ids = list(candidates)
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        refs = [products.product_ref(product_id) for product_id in batch]
        found = {snap.id: snap.to_dict() for snap in clients.firestore_client().get_all(refs) if snap.exists}
        for product_id in batch:
            yield product_id, found.get(product_id)
