"""One notification per upload batch: the batch's validation, folding and wording (no emulator).

The photos one upload request sends share a batch (admin.upload_sessions); the seller hears of
a batch of several photos in one notification that notify rewords as they finish
(fashiontag.notices ``fold``, ``batch_title``, ``batch_body``). Single uploads keep their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from fashiontag import contract, events, ingest, notices
from fashiontag.contract import MANAGERS, UploadBatch
from fashiontag.notices import BatchEntry, notices_for
from fashiontag.pubsub import Event

BATCH = {"id": "b0a1c2", "size": 3}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": "b0a1c2", "size": 3}, UploadBatch("b0a1c2", 3)),
        ({"id": "A_z-9", "size": "14"}, UploadBatch("A_z-9", 14)),  # metadata holds strings
        ({"id": "x" * 64, "size": 50}, UploadBatch("x" * 64, 50)),
        ({"id": "x", "size": 1}, UploadBatch("x", 1)),
        ({"id": "x" * 65, "size": 3}, None),
        ({"id": "", "size": 3}, None),
        ({"id": "a/b", "size": 3}, None),
        ({"id": "a.b", "size": 3}, None),
        ({"id": "abc", "size": 0}, None),
        ({"id": "abc", "size": 51}, None),
        ({"id": "abc", "size": -2}, None),
        ({"id": "abc", "size": "3.0"}, None),
        ({"id": "abc", "size": "٣"}, None),  # a digit, but not an ASCII one
        ({"id": "abc", "size": True}, None),
        ({"id": "abc", "size": 2.0}, None),
        ({"id": 7, "size": 3}, None),
        ({"id": "abc"}, None),
        ("abc", None),
        (None, None),
    ],
)
def test_a_batch_is_an_id_and_a_size_from_1_to_50_or_nothing(value: Any, expected: UploadBatch | None) -> None:
    assert contract.upload_batch(value) == expected


def test_the_batch_comes_from_the_objects_custom_metadata() -> None:
    assert contract.batch_from_metadata({"batch": "b1", "batch_size": "2", "other": "x"}) == UploadBatch("b1", 2)
    assert contract.batch_from_metadata({"batch": "b1"}) is None
    assert contract.batch_from_metadata(None) is None
    assert contract.batch_from_metadata(["batch"]) is None


def test_the_batch_notification_id_is_stable_and_per_recipient() -> None:
    a = contract.batch_notification_id("b1", "alice")
    assert a == contract.batch_notification_id("b1", "alice") and len(a) == 32
    assert a != contract.batch_notification_id("b1", "bob")
    assert a != contract.batch_notification_id("b2", "alice")
    assert a != contract.notification_id("b1", "alice")


def test_one_request_is_at_most_one_batch() -> None:
    from fashiontag.admin import upload_sessions

    assert upload_sessions.MAX_FILES <= contract.MAX_BATCH_SIZE


# --- on_upload: the storage event's metadata -> the product and its event -------------------


def _object_data(metadata: Any = None) -> dict[str, Any]:
    data = {"bucket": "b", "name": "uploads/alice/a.jpg", "generation": "7", "contentType": "image/jpeg", "size": "9"}
    return data if metadata is None else {**data, "metadata": metadata}


def test_the_storage_event_gives_the_object_its_batch() -> None:
    obj = ingest.StorageObject.from_event_data(_object_data({"batch": "b1", "batch_size": "3"}))
    assert obj.batch == UploadBatch("b1", 3)
    assert ingest.StorageObject.from_event_data(_object_data()).batch is None
    assert ingest.StorageObject.from_event_data(_object_data({"batch": "b/1", "batch_size": "3"})).batch is None
    assert ingest.StorageObject.from_event_data(_object_data({"batch": "b1", "batch_size": "99"})).batch is None


@pytest.mark.parametrize("batch", [BATCH, None, {"id": "b1", "size": 0}])
def test_product_events_carry_the_products_batch(monkeypatch: pytest.MonkeyPatch, batch: Any) -> None:
    published: list[dict[str, Any]] = []

    def publish(topic: str, kind: str, event_id: str, payload: dict[str, Any]) -> str:
        published.append(payload)
        return "m1"

    monkeypatch.setattr(events, "publish", publish)
    obj = ingest.StorageObject.from_event_data(_object_data())
    doc: dict[str, Any] = {"status": contract.REJECTED, "rejection": {"code": "x", "message": "y"}}
    if batch is not None:
        doc["batch"] = batch
    ingest._publish("alice", "p1", obj, doc)
    (payload,) = published
    expected = contract.upload_batch(batch)
    assert payload.get("batch") == (expected.as_dict() if expected else None)


# --- notify: which notices fold into a batch ---------------------------------------------------


def _event(product_id: str, status: str, name: str, batch: Any = BATCH, reason: str | None = None) -> Event:
    kind = contract.PRODUCT_REJECTED if status == contract.REJECTED else contract.PRODUCT_CLASSIFIED
    payload: dict[str, Any] = {
        "product_id": product_id,
        "seller_id": "alice",
        "status": status,
        "image": {"bucket": "b", "name": f"uploads/alice/{name}"},
    }
    if batch is not None:
        payload["batch"] = batch
    if status == contract.REJECTED:
        payload["rejection"] = {"code": "not_an_image", "message": reason or "This file is not a photo."}
    else:
        payload["category"] = {"label": "shirt", "confidence": 0.9}
    return Event(kind, f"{kind}:{product_id}", payload)


def test_the_sellers_notice_of_a_batched_photo_carries_its_entry_and_the_managers_do_not() -> None:
    seller, managers = notices_for(_event("p1", contract.NEEDS_REVIEW, "a.jpg"))
    assert seller.batch == BatchEntry(UploadBatch("b0a1c2", 3), "p1", "to review", "a.jpg")
    assert managers.to == MANAGERS and managers.batch is None and managers.product_id == "p1"
    seller, managers = notices_for(_event("p2", contract.REJECTED, "x.pdf", reason="Not a photo. Try JPEG."))
    assert seller.batch == BatchEntry(UploadBatch("b0a1c2", 3), "p2", "rejected", "x.pdf", "Not a photo. Try JPEG.")
    assert managers.batch is None
    (seller,) = notices_for(_event("p3", contract.AUTO_ACCEPTED, "c.jpg"))
    assert seller.batch is not None and seller.batch.outcome == "accepted"


@pytest.mark.parametrize(
    "batch",
    [None, {"id": "b1", "size": 1}, {"id": "b1", "size": 51}, {"id": "../b", "size": 3}, "b1", {"id": "b1"}],
)
def test_single_uploads_and_malformed_batches_keep_the_per_photo_notice(batch: Any) -> None:
    (seller,) = notices_for(_event("p1", contract.AUTO_ACCEPTED, "a.jpg", batch))
    assert seller.batch is None
    assert seller.title == "Photo classified" and seller.product_id == "p1"


def test_a_product_id_that_could_not_key_a_map_keeps_the_per_photo_notice() -> None:
    (seller,) = notices_for(_event("p.1", contract.AUTO_ACCEPTED, "a.jpg"))
    assert seller.batch is None


# --- folding and wording -----------------------------------------------------------------------


def _entry(product_id: str, outcome: str, file: str, reason: str | None = None, size: int = 3) -> BatchEntry:
    return BatchEntry(UploadBatch("b0a1c2", size), product_id, outcome, file, reason)


def _folded(*entries: BatchEntry) -> dict[str, Any]:
    state: dict[str, Any] | None = None
    for entry in entries:
        state = notices.fold(state, entry) or state
    assert state is not None
    return state


def test_fold_keys_outcomes_by_product_so_nothing_counts_twice() -> None:
    first = notices.fold(None, _entry("p1", "accepted", "a.jpg"))
    assert first == {
        "id": "b0a1c2",
        "size": 3,
        "outcomes": {"p1": "accepted"},
        "rejected": {},
        "files": {"p1": "a.jpg"},
    }
    assert notices.fold(first, _entry("p1", "accepted", "a.jpg")) is None  # a redelivery changes nothing
    second = notices.fold(first, _entry("p2", "rejected", "x.pdf", "Not a photo."))
    assert second is not None
    assert second["outcomes"] == {"p1": "accepted", "p2": "rejected"} and second["rejected"] == {"p2": "Not a photo."}
    assert first["outcomes"] == {"p1": "accepted"}  # folding copies; it never changes what it was given
    assert notices.fold(second, _entry("p2", "rejected", "x.pdf", "Not a photo.")) is None


def test_the_first_photos_size_stands() -> None:
    state = _folded(_entry("p1", "accepted", "a.jpg", size=3), _entry("p2", "accepted", "b.jpg", size=50))
    assert state["size"] == 3


def test_the_title_counts_the_outcomes_and_says_when_photos_are_still_coming() -> None:
    entries = [_entry(f"p{n}", "accepted", f"{n}.jpg", size=14) for n in range(12)]
    entries += [_entry("r1", "to review", "r.jpg", size=14), _entry("x1", "rejected", "x.pdf", "Not a photo.", 14)]
    assert notices.batch_title(_folded(*entries)) == "Your 14 photos: 12 accepted, 1 to review, 1 rejected"
    assert notices.batch_complete(_folded(*entries))
    partial = _folded(*entries[:8], entries[-1])
    assert notices.batch_title(partial) == "Your 14 photos: 9 of 14 done so far: 8 accepted, 1 rejected"
    assert not notices.batch_complete(partial)


def test_the_body_names_the_rejected_files_with_their_reasons_shortened_and_counts_the_ones_to_review() -> None:
    state = _folded(
        _entry("p1", "accepted", "a.jpg", size=5),
        _entry("p2", "to review", "b.jpg", size=5),
        _entry("p3", "rejected", "scan.pdf", "This file is a PDF document, not a photo. Please upload a photo.", 5),
        _entry("p4", "rejected", "big.jpg", "The file is 25.0 MB; the limit is 20 MB. Please upload a smaller one.", 5),
    )
    assert notices.batch_body(state) == (
        "Rejected: big.jpg – The file is 25.0 MB; the limit is 20 MB; "
        "scan.pdf – This file is a PDF document, not a photo. "
        "1 photo waits for a manager's check."
    )


def test_the_body_shortens_long_reasons_and_counts_the_rejected_files_it_has_no_room_to_name() -> None:
    long_reason = "The image is only 20x20 pixels; we need at least 64 pixels on each side to recognise a garment."
    entries = [_entry(f"p{n}", "rejected", f"photo-{n:02}.jpg", long_reason, size=6) for n in range(12)]
    entries.append(_entry("q", "to review", "q.jpg", size=6))
    entries.append(_entry("q2", "to review", "q2.jpg", size=6))
    body = notices.batch_body(_folded(*entries))
    shortened = "The image is only 20x20 pixels; we need at least 64 pixels on e…"
    assert body.startswith(f"Rejected: photo-00.jpg – {shortened}; photo-01.jpg – {shortened}; ")
    named = sum(f"photo-{n:02}.jpg" in body for n in range(12))
    assert 2 <= named < 12 and f"; and {12 - named} more." in body
    assert body.endswith("2 photos wait for a manager's check.")
    assert len(body) <= 300
    assert notices.batch_title(_folded(*entries)) == "Your 14 photos: 2 to review, 12 rejected"  # more came than said


def test_a_very_long_file_name_is_shortened_too() -> None:
    state = _folded(_entry("p1", "rejected", "x" * 100 + ".jpg", "Not a photo.", size=2))
    assert notices.batch_body(state) == f"Rejected: {'x' * 39}… – Not a photo."


@pytest.mark.parametrize(
    ("outcomes", "body"),
    [
        (["accepted", "accepted"], "All accepted: nothing needs your attention."),
        (["accepted"], "Nothing needs your attention so far."),
    ],
)
def test_the_body_says_when_nothing_needs_attention(outcomes: list[str], body: str) -> None:
    state = _folded(*(_entry(f"p{n}", o, f"{n}.jpg", size=2) for n, o in enumerate(outcomes)))
    assert notices.batch_body(state) == body


def test_the_batch_notice_is_the_sellers_and_links_no_single_product() -> None:
    state = _folded(_entry("p1", "accepted", "a.jpg", size=2), _entry("p2", "accepted", "b.jpg", size=2))
    notice = notices.batch_notice("alice", state)
    assert (notice.to, notice.kind, notice.product_id) == ("alice", contract.PRODUCT_BATCH, None)
    assert notice.title == "Your 2 photos: 2 accepted"
