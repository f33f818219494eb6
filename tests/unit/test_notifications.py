"""notify's routing and wording, message parsing, push settings: no emulator needed."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fashiontag import config, contract, pushes
from fashiontag.contract import MANAGERS
from fashiontag.notices import notices_for
from fashiontag.pubsub import Event, Malformed, decode

REPO = Path(__file__).resolve().parents[2]


def _data(body: Any, attributes: dict[str, str] | None = None, message_id: str = "1") -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {
        "message": {
            "data": base64.b64encode(raw).decode(),
            "attributes": attributes or {},
            "messageId": message_id,
        }
    }


def test_notify_never_imports_tensorflow_or_litert() -> None:
    code = textwrap.dedent(
        f"""
        import importlib.util, sys
        import fashiontag.notifications
        spec = importlib.util.spec_from_file_location("notify_main", {str(REPO / "functions/notify/main.py")!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert callable(module.notify)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "ai_edge_litert", "keras"))
        print(",".join(heavy))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_parse_takes_type_and_event_id_from_the_body() -> None:
    event = decode(_data({"type": "product.classified", "event_id": "e1", "product_id": "p"}))
    assert event == Event("product.classified", "e1", {"product_id": "p"})


def test_parse_falls_back_to_attributes_then_message_id() -> None:
    event = decode(_data({"x": 1}, {"type": "model.trained", "event_id": "e2"}))
    assert (event.type, event.event_id) == ("model.trained", "e2")
    event = decode(_data({"type": "model.trained"}, message_id="42"))
    assert event.event_id == "pubsub:42"


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"message": "x"},
        {"message": {"data": "not base64!"}},
        _data(b"not json"),
        _data(b"\xff\xfe"),
        _data([1, 2]),
        _data({"event_id": "e"}),
        _data({"type": ""}),
        {"message": {"data": base64.b64encode(b'{"type": "x"}').decode()}},  # no id at all
    ],
)
def test_parse_refuses_malformed_messages(data: Any) -> None:
    with pytest.raises(Malformed):
        decode(data)


def _classified(status: str, confidence: float = 0.62) -> Event:
    return Event(
        "product.classified",
        "product.classified:p1",
        {
            "product_id": "p1",
            "seller_id": "alice",
            "status": status,
            "image": {"bucket": "b", "name": "uploads/alice/shirt.jpg"},
            "category": {"label": "shirt", "confidence": confidence},
        },
    )


def test_classified_for_review_tells_the_seller_and_the_managers() -> None:
    seller, managers = notices_for(_classified(contract.NEEDS_REVIEW))
    assert seller.to == "alice" and managers.to == MANAGERS
    assert seller.body == "Your photo shirt.jpg was classified as Shirt (62%). A manager will check it."
    assert "needs review" in managers.body and "alice" in managers.body
    assert {seller.kind, managers.kind} == {"product.classified"}
    assert seller.product_id == managers.product_id == "p1"


def test_classified_auto_accepted_tells_only_the_seller() -> None:
    (seller,) = notices_for(_classified(contract.AUTO_ACCEPTED, 0.87))
    assert seller.body == "Your photo shirt.jpg was classified as Shirt (87%). It was accepted automatically."


def test_rejected_tells_the_seller_why() -> None:
    event = Event(
        "product.rejected",
        "product.rejected:p2",
        {
            "product_id": "p2",
            "seller_id": "bob",
            "status": "rejected",
            "image": {"name": "uploads/bob/x.pdf"},
            "rejection": {"code": "not_an_image", "message": "This file is not a photo."},
        },
    )
    seller, managers = notices_for(event)
    assert seller.to == "bob" and seller.body == "Your photo x.pdf was rejected: This file is not a photo."
    assert managers.to == MANAGERS and "not_an_image" in managers.body


def test_reviewed_and_published_name_the_product_from_its_document() -> None:
    product = {"image": {"name": "uploads/carol/coat.png"}, "spec": {"category": "coat"}, "status": "verified"}
    payload = {"product_id": "p3", "seller_id": "carol", "by": "m1"}
    (reviewed,) = notices_for(Event("product.reviewed", "r1", payload), product)
    assert reviewed.to == "carol"
    assert reviewed.body == "A manager reviewed your product Coat (coat.png). It is now verified."
    (published,) = notices_for(Event("product.published", "r2", payload), product)
    assert published.body == "Your product Coat (coat.png) is now published: buyers can see it."
    (bare,) = notices_for(Event("product.published", "r3", payload))
    assert bare.body == "Your product is now published: buyers can see it."


@pytest.mark.parametrize("kind", ["model.trained", "model.promoted", "model.rejected"])
def test_model_events_go_to_the_managers(kind: str) -> None:
    payload = {"model": "category", "version": "v2", "previous_version": "v1", "reason": "beats v1 by 2 points"}
    (notice,) = notices_for(Event(kind, f"{kind}:category:v2", payload))
    assert notice.to == MANAGERS and notice.kind == kind and "category v2" in notice.body
    assert notice.product_id is None


def test_message_goes_to_its_addressee_and_is_shortened() -> None:
    payload = {
        "message_id": "m1",
        "from": "dave",
        "from_role": "buyer",
        "to": MANAGERS,
        "product_id": "p4",
        "text": "Is\nthis   cotton? " + "x" * 1000,
    }
    (notice,) = notices_for(Event("message.sent", "message.sent:m1", payload))
    assert notice.to == MANAGERS and notice.title == "New message from a buyer"
    assert notice.body.startswith("Is this cotton? ") and len(notice.body) <= 300
    assert notice.product_id == "p4"


def test_missing_fields_are_malformed_and_unknown_types_route_nowhere() -> None:
    with pytest.raises(Malformed):
        notices_for(Event("product.classified", "e", {"product_id": "p"}))
    with pytest.raises(Malformed):
        notices_for(Event("message.sent", "e", {"to": "x"}))
    with pytest.raises(Malformed):
        notices_for(Event("message.sent", "e", {"to": "users/x", "text": "hi"}))
    assert notices_for(Event("product.exploded", "e", {})) == []


def test_notification_ids_are_stable_and_per_recipient() -> None:
    a = contract.notification_id("e1", "alice")
    assert a == contract.notification_id("e1", "alice")
    assert a != contract.notification_id("e1", MANAGERS)
    assert a != contract.notification_id("e2", "alice")


def test_push_mode_is_outbox_on_the_emulator_and_fcm_in_the_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASHIONTAG_PUSH_MODE", raising=False)
    assert config.push_mode() == config.PUSH_MODE_FCM
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
    assert config.push_mode() == config.PUSH_MODE_OUTBOX
    monkeypatch.setenv("FASHIONTAG_PUSH_MODE", "fcm")
    assert config.push_mode() == config.PUSH_MODE_FCM
    monkeypatch.setenv("FASHIONTAG_PUSH_MODE", "pigeon")
    with pytest.raises(ValueError):
        config.push_mode()


def test_fcm_message_carries_tokens_text_and_string_data() -> None:
    record = {
        "tokens": ["t1", "t2"],
        "title": "Photo classified",
        "body": "Your photo a.jpg was classified as Bag (91%).",
        "data": {"notification_id": "n1", "kind": "product.classified", "product_id": "p1"},
    }
    message = pushes.fcm_message(record)
    assert message.fids == ["t1", "t2"] and message.tokens is None
    assert message.notification.title == "Photo classified"
    assert message.notification.body.startswith("Your photo a.jpg")
    assert message.data == record["data"]


def test_fcm_message_sends_legacy_registration_tokens_as_tokens() -> None:
    legacy = "dGVzdA:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ"
    record = {"tokens": ["cAbCdEfGhIjKlMnOpQrStU", legacy], "title": "t", "body": "b", "data": {}}
    with pytest.warns(DeprecationWarning):
        message = pushes.fcm_message(record)
    assert message.fids == ["cAbCdEfGhIjKlMnOpQrStU"] and message.tokens == [legacy]


def test_only_permanently_dead_addresses_are_forgotten() -> None:
    from firebase_admin import messaging

    legacy = "dGVzdA:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ"
    record = {"tokens": ["fid-gone", legacy, "fid-ok", "fid-busy", "fid-foreign"]}
    # firebase-admin answers a multicast in its sending order: registration tokens, then FIDs.
    responses = [
        messaging.SendResponse(None, messaging.UnregisteredError("token expired")),  # legacy
        messaging.SendResponse(None, messaging.UnregisteredError("app removed")),  # fid-gone
        messaging.SendResponse({"name": "projects/p/messages/1"}, None),  # fid-ok
        messaging.SendResponse(None, messaging.QuotaExceededError("slow down")),  # fid-busy
        messaging.SendResponse(None, messaging.SenderIdMismatchError("another project")),  # fid-foreign
    ]
    assert pushes.dead_addresses(record, responses) == [legacy, "fid-gone", "fid-foreign"]


def test_review_events_shaped_like_the_admin_apps() -> None:
    payload = {
        "product_id": "p5",
        "seller_id": "carol",
        "by": "mia",
        "status": contract.VERIFIED,
        "action": "verify",
        "history": 2,
        "spec": {"category": "ankle_boot", "attributes": {}},
    }
    (notice,) = notices_for(Event("product.reviewed", "product.reviewed:p5:2", payload))
    assert notice.title == "Product verified"
    assert notice.body == "A manager verified your product Ankle boot. It is now verified."
    edited = {**payload, "action": "edit", "status": contract.NEEDS_REVIEW}
    (notice,) = notices_for(Event("product.reviewed", "product.reviewed:p5:3", edited))
    assert notice.body == "A manager corrected your product Ankle boot. It still awaits a final check."


def test_training_summaries_shaped_like_the_training_jobs() -> None:
    summary = {
        "model": "category",
        "version": "v3",
        "request_id": "r1",
        "candidate_accuracy": 0.9123,
        "active_version": "v1",
        "active_accuracy": 0.9091,
        "reasons": ["not better by the margin of 0.5 points", "class shirt dropped 3 points"],
    }
    (trained,) = notices_for(Event("model.trained", "model.trained:category:v3", summary))
    assert trained.body == "Model category v3 finished training (accuracy 91.2%; active v1: 90.9%)."
    (rejected,) = notices_for(Event("model.rejected", "model.rejected:category:v3", summary))
    assert rejected.body == (
        "Candidate model category v3 was not promoted (accuracy 91.2%; active v1: 90.9%): "
        "not better by the margin of 0.5 points; class shirt dropped 3 points"
    )
    promoted = {"model": "category", "version": "v3", "previous_version": "v1", "by": "m", "reason": "rollback"}
    (notice,) = notices_for(Event("model.promoted", "model.promoted:category:v3:2", promoted))
    assert notice.body == "Model category v3 is now active, replacing v1: rollback"


def test_odd_attributes_and_a_path_like_product_id_do_not_break_parsing() -> None:
    data = _data({"type": "product.published", "event_id": "e", "product_id": "a/b", "seller_id": "s"})
    data["message"]["attributes"] = ["not", "a", "map"]
    event = decode(data)
    assert event.type == "product.published" and event.payload["product_id"] == "a/b"
