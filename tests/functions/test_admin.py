"""The admin function through functions-framework's test client, on the emulators.

Real ID tokens (signed in on the Auth emulator), real Firestore transactions, real Pub/Sub
messages read back through a tap: edits, verification, publication with their history and
events, verify-many, the queue's filters, messages, notices, uploads and the catalogue.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from functions_framework import create_app
from google.cloud import firestore

from fashiontag import clients, config, contract
from fashiontag.admin import catalogue, identity
from fashiontag.contract import MANAGERS
from fashiontag.local.stack import StackConfig
from tests import corpus
from tests.helpers import EventTap, sign_in, wait_finished

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "admin" / "main.py"


@dataclass(frozen=True)
class Person:
    uid: str
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


PASSWORD = "pass-word-1"


def add_person(email: str, role: str, uid: str | None = None) -> Person:
    added = identity.add_user(email, role, PASSWORD, None, uid)
    return Person(added.uid, email, role, sign_in(email, PASSWORD))


@pytest.fixture
def client(stack: StackConfig) -> FlaskClient:
    return create_app("admin", str(SOURCE), "http").test_client()


@pytest.fixture
def people(stack: StackConfig) -> dict[str, Person]:
    return {
        "manager": add_person("boss@shop.test", "manager"),
        "seller": add_person("ann@shop.test", "seller", "seller-ann"),
        "other": add_person("bob@shop.test", "seller", "seller-bob"),
        "buyer": add_person("cat@shop.test", "buyer"),
    }


@pytest.fixture
def tap(stack: StackConfig) -> Iterator[EventTap]:
    tap = EventTap(stack.url("pubsub"), stack.project, contract.TOPIC_PRODUCT_EVENTS)
    yield tap
    tap.close()


def _jpeg(seed: int = 3) -> bytes:
    buf = io.BytesIO()
    corpus.garment_photo(seed).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def make_product(
    product_id: str,
    seller: str,
    status: str = contract.NEEDS_REVIEW,
    label: str = "trouser",
    conf: float = 0.6,
    published_spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A classified product as on_upload writes it, with its photo and thumbnail in the bucket.

    The photo lies outside uploads/ so that the pipeline does not classify it a second time.
    """
    bucket = clients.storage_client().bucket(config.upload_bucket())
    name = f"test-photos/{seller}/{product_id}.jpg"
    bucket.blob(name).upload_from_string(_jpeg(), content_type="image/jpeg")
    bucket.blob(f"derived/{product_id}/thumbnail.jpg").upload_from_string(_jpeg(), content_type="image/jpeg")
    doc = {
        "seller_id": seller,
        "status": status,
        "image": {"bucket": bucket.name, "name": name, "generation": "", "format": "JPEG"},
        "derived": {"thumbnail": f"derived/{product_id}/thumbnail.jpg"},
        "prediction": {
            "category": {
                "label": label,
                "confidence": conf,
                "top": [{"label": label, "confidence": conf}, {"label": "dress", "confidence": 1 - conf}],
            },
            "model": {"name": "category", "version": "v1"},
        },
        "spec": published_spec or {"category": label, "source": "prediction"},
        "created_at": firestore.SERVER_TIMESTAMP,
        "updated_at": firestore.SERVER_TIMESTAMP,
    }
    clients.firestore_client().collection(contract.PRODUCTS).document(product_id).set(doc)
    if status == contract.PUBLISHED:  # as the review that publishes it writes the buyers' view
        catalogue.ref(product_id).set(catalogue.entry(doc))
    return doc


def product(product_id: str) -> dict[str, Any]:
    snap = clients.firestore_client().collection(contract.PRODUCTS).document(product_id).get()
    return snap.to_dict() or {}


def history(product_id: str) -> list[dict[str, Any]]:
    ref = clients.firestore_client().collection(contract.PRODUCTS).document(product_id).collection("history")
    return sorted((s.to_dict() or {} for s in ref.stream()), key=lambda e: e["n"])


# --- the page --------------------------------------------------------------------------------


def test_the_shell_is_public_holds_no_data_and_forbids_inline_script(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="sign-in-form"' in html and "/assets/app.js" in html
    assert "<script>" not in html  # no inline script: the CSP below would block it anyway
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/assets/app.js").status_code == 200


def test_a_role_change_ends_the_sessions_of_the_old_role(client: FlaskClient, people: dict[str, Person]) -> None:
    ann = people["seller"]
    assert client.get("/api/seller/products", headers=ann.headers).status_code == 200
    # Revocation has one-second resolution: tokens minted in the second it happens stay valid.
    time.sleep(1.1)
    identity.add_user(ann.email, "buyer")
    refused = client.get("/api/seller/products", headers=ann.headers)
    assert refused.status_code == 401 and "sign in again" in refused.get_json()["error"]
    time.sleep(1.1)
    again = {"Authorization": f"Bearer {sign_in(ann.email, PASSWORD)}"}
    assert client.get("/api/me", headers=again).get_json()["role"] == "buyer"
    assert client.get("/api/seller/products", headers=again).status_code == 403
    # The same role again is no change: other sessions stay.
    identity.add_user(people["manager"].email, "manager")
    assert client.get("/api/me", headers=people["manager"].headers).status_code == 200


def test_me_and_taxonomy(client: FlaskClient, people: dict[str, Person]) -> None:
    me = client.get("/api/me", headers=people["seller"].headers).get_json()
    assert me == {"uid": "seller-ann", "email": "ann@shop.test", "role": "seller"}
    tax = client.get("/api/taxonomy", headers=people["buyer"].headers).get_json()
    trouser = next(c for c in tax["categories"] if c["id"] == "trouser")
    assert "fit" in [f["id"] for f in trouser["families"]]


# --- review: edit, verify, publish -----------------------------------------------------------


def test_edit_verify_publish_write_history_in_the_transaction_and_publish_events(
    client: FlaskClient, people: dict[str, Person], tap: EventTap
) -> None:
    make_product("p1", "seller-ann", conf=0.55)
    manager = people["manager"]

    edit = client.post(
        "/api/products/p1/spec",
        json={"category": "trouser", "attributes": {"fit": "slim", "rise": ""}, "colours": "navy, white"},
        headers=manager.headers,
    )
    assert edit.status_code == 200, edit.get_json()
    assert edit.get_json()["history"] == 1
    doc = product("p1")
    assert doc["spec"] == {
        "category": "trouser",
        "attributes": {"fit": "slim"},
        "colours": ["navy", "white"],
        "source": "manager",
    }
    assert doc["status"] == contract.NEEDS_REVIEW and doc["history_count"] == 1
    # Who reviewed it is in the history (managers only), not on the product its seller reads.
    assert doc["review"]["action"] == "edit" and "by" not in doc["review"]

    # Without colours an edit leaves them as they are.
    kept = client.post(
        "/api/products/p1/spec", json={"category": "trouser", "attributes": {"fit": "slim"}}, headers=manager.headers
    )
    assert kept.get_json()["changed"] is False and kept.get_json()["spec"]["colours"] == ["navy", "white"]

    assert client.post("/api/products/p1/verify", json={}, headers=manager.headers).status_code == 200
    retried = client.post("/api/products/p1/verify", json={}, headers=manager.headers)
    assert retried.status_code == 200 and retried.get_json()["changed"] is False
    assert client.post("/api/products/p1/publish", json={}, headers=manager.headers).status_code == 200
    assert product("p1")["status"] == contract.PUBLISHED

    entries = history("p1")
    assert [(e["n"], e["action"]) for e in entries] == [(1, "edit"), (2, "verify"), (3, "publish")]
    assert entries[0]["by"] == manager.uid and entries[0]["at"] is not None
    assert entries[0]["before"] == {"status": "needs_review", "spec": {"category": "trouser", "source": "prediction"}}
    assert entries[0]["after"]["spec"]["attributes"] == {"fit": "slim"}
    assert (entries[1]["before"]["status"], entries[1]["after"]["status"]) == ("needs_review", "verified")
    assert (entries[2]["before"]["status"], entries[2]["after"]["status"]) == ("verified", "published")

    events = [e for e in tap.drain() if e["data"]["product_id"] == "p1"]
    ids = [e["attributes"]["event_id"] for e in events]
    # The repeated edit and the retried verify announced entries 1 and 2 again under the same
    # ids (in case the first publish had failed): consumers drop the duplicates.
    assert ids == [
        "product.reviewed:p1:1",
        "product.reviewed:p1:1",
        "product.reviewed:p1:2",
        "product.reviewed:p1:2",
        "product.published:p1:3",
    ]
    assert events[-1]["data"]["type"] == "product.published"
    assert events[-1]["data"]["seller_id"] == "seller-ann" and events[-1]["data"]["by"] == manager.uid
    assert events[-1]["data"]["status"] == "published"


def test_an_edit_outside_the_taxonomy_is_refused_with_a_clear_message(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    make_product("p2", "seller-ann")
    before = product("p2")
    cases = [
        ({"category": "trouser", "attributes": {"fit": "baggy"}}, "'baggy' is not a fit value; choose one of: skinny"),
        ({"category": "cape"}, "'cape' is not a category; choose one of: t_shirt_top"),
        ({"category": "bag", "attributes": {"fit": "slim"}}, "'fit' is not an attribute of bag"),
        ({"category": "trouser", "colours": ["<b>red</b>"]}, "'<b>red</b>' is not a colour; choose from: black"),
    ]
    for body, expected in cases:
        response = client.post("/api/products/p2/spec", json=body, headers=people["manager"].headers)
        assert response.status_code == 400
        assert expected in response.get_json()["error"]
        assert response.get_json()["error"].startswith("The correction was not saved")
    assert product("p2") == before
    assert history("p2") == []


def test_publish_needs_verification_and_rejected_products_cannot_be_corrected(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    make_product("p3", "seller-ann")
    make_product("p4", "seller-ann", status=contract.REJECTED)
    headers = people["manager"].headers
    refused = client.post("/api/products/p3/publish", json={}, headers=headers)
    assert refused.status_code == 409 and "Verify it first" in refused.get_json()["error"]
    assert client.post("/api/products/p4/spec", json={"category": "bag"}, headers=headers).status_code == 409
    assert client.post("/api/products/p4/verify", json={}, headers=headers).status_code == 409
    assert client.post("/api/products/nope/verify", json={}, headers=headers).status_code == 404
    assert history("p3") == [] and history("p4") == []


def test_verify_many_verifies_only_the_confident_ones(
    client: FlaskClient, people: dict[str, Person], tap: EventTap
) -> None:
    make_product("hi1", "seller-ann", status=contract.AUTO_ACCEPTED, conf=0.97)
    make_product("hi2", "seller-bob", status=contract.AUTO_ACCEPTED, conf=0.91)
    make_product("lo", "seller-ann", conf=0.42)
    response = client.post(
        "/api/verify-many",
        json={"ids": ["hi1", "hi2", "lo", "ghost"], "threshold": 0.9},
        headers=people["manager"].headers,
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["verified"] == ["hi1", "hi2"]
    assert {s["product_id"] for s in body["skipped"]} == {"lo", "ghost"}
    assert [product(p)["status"] for p in ("hi1", "hi2", "lo")] == ["verified", "verified", "needs_review"]
    assert [e["action"] for e in history("hi1")] == ["verify"]
    ids = {e["attributes"]["event_id"] for e in tap.drain() if e["data"]["type"] == "product.reviewed"}
    assert ids == {"product.reviewed:hi1:1", "product.reviewed:hi2:1"}
    assert (
        client.post(
            "/api/verify-many", json={"ids": [], "threshold": 0.9}, headers=people["manager"].headers
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/verify-many", json={"ids": ["hi1"], "threshold": 2}, headers=people["manager"].headers
        ).status_code
        == 400
    )


def test_the_queue_filters_and_puts_the_least_confident_first(client: FlaskClient, people: dict[str, Person]) -> None:
    make_product("a", "seller-ann", conf=0.8, label="trouser")
    make_product("b", "seller-ann", conf=0.3, label="dress")
    make_product("c", "seller-bob", status=contract.AUTO_ACCEPTED, conf=0.95, label="trouser")
    make_product("d", "seller-bob", status=contract.PUBLISHED, conf=0.99)
    headers = people["manager"].headers

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/products{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [p["id"] for p in response.get_json()["products"]]

    assert ids("") == ["b", "a", "c"]  # open products, lowest confidence first
    assert ids("?status=all") == ["b", "a", "c", "d"]
    assert ids("?category=trouser") == ["a", "c"]
    assert ids("?seller=seller-bob&status=all") == ["c", "d"]
    assert ids("?min_confidence=0.5&max_confidence=0.9") == ["a"]
    assert ids("?status=published") == ["d"]
    assert client.get("/api/products?status=bogus", headers=headers).status_code == 400
    html = client.get("/views/queue", headers=headers).get_data(as_text=True)
    assert html.index('data-product="b"') < html.index('data-product="a"')


def test_the_queue_orders_in_firestore_so_the_least_confident_come_first_however_many_wait(
    client: FlaskClient, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ids in the opposite order of confidence: reading "some" products and sorting them here
    # would show the wrong ones once more products wait than a request reads.
    for n, conf in enumerate((0.9, 0.8, 0.7, 0.6, 0.5, 0.4)):
        make_product(f"p{n}", "seller-ann", conf=conf)
    make_product("r0", "seller-ann", status=contract.REJECTED, conf=0.1)
    monkeypatch.setattr("fashiontag.admin.listings.SCAN_LIMIT", 3)
    headers = people["manager"].headers

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/products{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [p["id"] for p in response.get_json()["products"]]

    assert ids("") == ["p5", "p4", "p3"]
    assert ids("?seller=seller-ann&max_confidence=0.75") == ["p5", "p4", "p3"]
    assert ids("?min_confidence=0.55&limit=2") == ["p3", "p2"]
    assert ids("?sort=newest&limit=2") == ["p5", "p4"]  # created last
    assert ids("?status=rejected") == ["r0"]


def test_the_review_page_shows_predictions_attributes_colours_and_history(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    make_product("r1", "seller-ann", conf=0.7)
    clients.firestore_client().collection(contract.PRODUCTS).document("r1").update(
        {
            "prediction.attributes": {
                "fit": {"label": "slim", "confidence": 0.81, "top": []},
                "wash": {"status": "untrained"},
            },
            "prediction.colours": [{"name": "navy", "hex": "#1f2a44", "share": 0.7}],
        }
    )
    headers = people["manager"].headers
    client.post("/api/products/r1/spec", json={"category": "trouser", "attributes": {"fit": "slim"}}, headers=headers)
    html = client.get("/views/products/r1", headers=headers).get_data(as_text=True)
    assert "Trouser" in html and "70%" in html
    assert "slim" in html and "not trained yet" in html
    assert 'data-hex="#1f2a44"' in html and "navy" in html
    assert "boss@shop.test" in html  # the history's "who"
    assert 'name="attributes.fit"' in html


# --- messages, notices, notifications --------------------------------------------------------


def test_messages_go_where_each_role_may_send_them(
    client: FlaskClient, people: dict[str, Person], stack: StackConfig
) -> None:
    make_product("m1", "seller-ann")
    make_product("m2", "seller-bob", status=contract.PUBLISHED)
    tap = EventTap(stack.url("pubsub"), stack.project, contract.TOPIC_MESSAGE_EVENTS)
    try:
        seller = client.post(
            "/api/messages",
            json={"text": "Is the fit right?", "product_id": "m1", "request_id": "req-00000001"},
            headers=people["seller"].headers,
        )
        again = client.post(
            "/api/messages",
            json={"text": "Is the fit right?", "product_id": "m1", "request_id": "req-00000001"},
            headers=people["seller"].headers,
        )
        assert seller.status_code == again.status_code == 201
        assert seller.get_json()["message_id"] == again.get_json()["message_id"]
        assert seller.get_json()["to"] == "role:manager"
        # A seller cannot write about another seller's product, nor to someone else.
        assert (
            client.post(
                "/api/messages", json={"text": "x", "product_id": "m2"}, headers=people["seller"].headers
            ).status_code
            == 404
        )
        assert (
            client.post(
                "/api/messages", json={"text": "x", "to": "seller-bob"}, headers=people["seller"].headers
            ).status_code
            == 403
        )
        # Buyers give feedback about published products only.
        feedback = client.post(
            "/api/messages", json={"text": "Lovely", "product_id": "m2"}, headers=people["buyer"].headers
        )
        assert feedback.status_code == 201 and feedback.get_json()["from_role"] == "buyer"
        assert (
            client.post(
                "/api/messages", json={"text": "x", "product_id": "m1"}, headers=people["buyer"].headers
            ).status_code
            == 404
        )
        manager = client.post(
            "/api/messages",
            json={"text": "Please reshoot", "to": "seller-ann", "product_id": "m1"},
            headers=people["manager"].headers,
        )
        assert manager.status_code == 201
        assert (
            client.post(
                "/api/messages", json={"text": "  ", "to": "seller-ann"}, headers=people["manager"].headers
            ).status_code
            == 400
        )

        stored = list(clients.firestore_client().collection("messages").stream())
        assert len(stored) == 3
        events = tap.drain()
        assert {e["attributes"]["type"] for e in events} == {"message.sent"}
        assert len({e["attributes"]["event_id"] for e in events}) == 3
        sent = next(e["data"] for e in events if e["data"]["from_role"] == "buyer")
        assert {k: sent[k] for k in ("from", "to", "product_id", "text")} == {
            "from": people["buyer"].uid,
            "to": "role:manager",
            "product_id": "m2",
            "text": "Lovely",
        }
    finally:
        tap.close()
    everything = client.get("/api/messages", headers=people["manager"].headers).get_json()["messages"]
    assert len(everything) == 3
    feedback_only = client.get("/api/messages?from_role=buyer", headers=people["manager"].headers).get_json()
    assert [m["text"] for m in feedback_only["messages"]] == ["Lovely"]
    own = client.get("/api/messages", headers=people["other"].headers).get_json()["messages"]
    assert own == []


def test_each_manager_reads_a_managers_notification_for_themself(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    second = add_person("deb@shop.test", "manager")
    notifications = clients.firestore_client().collection("notifications")
    notifications.document("n-team").set(
        {
            "to": MANAGERS,
            "kind": "product.needs_review",
            "title": "Review",
            "body": "b",
            "read": False,
            "created_at": firestore.SERVER_TIMESTAMP,
        }
    )

    def read_flags(person: Person) -> list[bool]:
        listed = client.get("/api/notifications", headers=person.headers).get_json()["notifications"]
        return [n["read"] for n in listed if n["id"] == "n-team"]

    assert read_flags(people["manager"]) == read_flags(second) == [False]
    assert client.post("/api/notifications/n-team/read", json={}, headers=second.headers).status_code == 200
    assert client.post("/api/notifications/n-team/read", json={}, headers=second.headers).status_code == 200
    assert read_flags(second) == [True]
    assert read_flags(people["manager"]) == [False]  # still unread for the other manager
    stored = notifications.document("n-team")
    assert (stored.get().to_dict() or {})["read"] is False
    assert [mark.id for mark in stored.collection(contract.READS).stream()] == [second.uid]


def test_managers_notify_and_recipients_read_and_mark_their_notifications(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    sent = client.post(
        "/api/notifications",
        json={"to": "seller-ann", "title": "Reshoot", "body": "Use daylight", "request_id": "note-0000001"},
        headers=people["manager"].headers,
    )
    assert sent.status_code == 201
    doc = clients.firestore_client().collection("notifications").document(sent.get_json()["notification_id"]).get()
    stored = doc.to_dict() or {}
    assert stored["kind"] == "manager.notice" and stored["read"] is False
    mine = client.get("/api/notifications", headers=people["seller"].headers).get_json()["notifications"]
    assert [n["title"] for n in mine] == ["Reshoot"]
    assert client.get("/api/notifications", headers=people["other"].headers).get_json()["notifications"] == []
    nid = mine[0]["id"]
    assert client.post(f"/api/notifications/{nid}/read", json={}, headers=people["other"].headers).status_code == 404
    assert client.post(f"/api/notifications/{nid}/read", json={}, headers=people["seller"].headers).status_code == 200
    assert (doc.reference.get().to_dict() or {})["read"] is True
    assert (
        client.post(
            "/api/notifications", json={"to": "seller-ann", "title": "x", "body": "y"}, headers=people["seller"].headers
        ).status_code
        == 403
    )


# --- uploads ---------------------------------------------------------------------------------


def test_upload_sessions_write_into_the_sellers_own_folder_only(
    client: FlaskClient, people: dict[str, Person], stack: StackConfig
) -> None:
    data = _jpeg()
    response = client.post(
        "/api/uploads",
        json={
            "files": [{"name": "../../seller-bob/évening dress.JPG", "size": len(data), "content_type": "image/jpeg"}]
        },
        headers=people["seller"].headers,
    )
    assert response.status_code == 201, response.get_json()
    session = response.get_json()["sessions"][0]
    # The file's own name, made unique: a second photo of that name never replaces this one.
    assert re.fullmatch(r"uploads/seller-ann/évening-dress-[0-9a-f]{12}\.jpg", session["object"])
    assert requests.put(session["session_url"], data=data, headers={"Content-Type": "image/jpeg"}, timeout=10).ok
    blob = clients.storage_client().bucket(config.upload_bucket()).get_blob(session["object"])
    assert blob is not None and blob.size == len(data) and blob.content_type == "image/jpeg"
    # The pipeline classifies it like any upload; wait, so that it does not spill into the next test.
    uploaded = wait_finished(contract.product_id(config.upload_bucket(), blob.name, str(blob.generation)))
    assert uploaded["seller_id"] == "seller-ann"

    def refused(files: list[dict[str, Any]], person: str = "seller") -> tuple[int, str]:
        r = client.post("/api/uploads", json={"files": files}, headers=people[person].headers)
        return r.status_code, (r.get_json() or {}).get("error", "")

    assert refused([{"name": "a.pdf", "size": 10, "content_type": "application/pdf"}])[0] == 400
    too_big = config.limits().max_bytes + 1
    status, message = refused([{"name": "big.jpg", "size": too_big, "content_type": "image/jpeg"}])
    assert status == 400 and "limit" in message
    assert refused([{"name": "a.jpg", "size": 10, "content_type": "image/jpeg"}], "buyer")[0] == 403
    assert refused([{"name": "a.jpg", "size": 10, "content_type": "image/jpeg"}], "manager")[0] == 403
    assert refused([])[0] == 400


# --- seller and buyer views ------------------------------------------------------------------


def test_sellers_see_only_their_own_products(client: FlaskClient, people: dict[str, Person]) -> None:
    make_product("mine", "seller-ann")
    make_product("theirs", "seller-bob")
    ann = people["seller"].headers
    listed = client.get("/api/seller/products", headers=ann).get_json()["products"]
    assert [p["id"] for p in listed] == ["mine"]
    assert client.get("/api/products/mine", headers=ann).status_code == 200
    assert client.get("/api/products/mine/image", headers=ann).status_code == 200
    for path in ("/api/products/theirs", "/api/products/theirs/image", "/views/products/theirs"):
        assert client.get(path, headers=ann).status_code == 404, path
    html = client.get("/views/seller", headers=ann).get_data(as_text=True)
    assert 'data-product="mine"' in html and "theirs" not in html


def test_buyers_browse_published_products_by_category_attribute_and_colour(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    spec = {"category": "trouser", "attributes": {"fit": "slim"}, "colours": ["navy"], "source": "manager"}
    make_product("pub1", "seller-ann", status=contract.PUBLISHED, published_spec=spec)
    make_product(
        "pub2",
        "seller-bob",
        status=contract.PUBLISHED,
        label="dress",
        published_spec={"category": "dress", "colours": ["red"]},
    )
    make_product("hidden", "seller-ann", status=contract.VERIFIED)
    buyer = people["buyer"].headers

    def ids(query: str) -> list[str]:
        return sorted(p["id"] for p in client.get(f"/api/catalogue{query}", headers=buyer).get_json()["products"])

    assert ids("") == ["pub1", "pub2"]
    assert ids("?category=trouser") == ["pub1"]
    assert ids("?attribute=fit%3Dslim") == ["pub1"]
    assert ids("?colour=red") == ["pub2"]
    assert ids("?attribute=fit%3Dskinny") == []
    one = client.get("/api/products/pub1", headers=buyer).get_json()
    assert one == {
        "id": "pub1",
        "category": "trouser",
        "category_name": "Trouser",
        "attributes": {"Fit": "slim"},
        "colours": ["navy"],
        "published_at": None,
    }
    assert client.get("/api/products/hidden", headers=buyer).status_code == 404
    assert client.get("/api/products/pub1/image?kind=photo", headers=buyer).status_code == 404
    html = client.get("/views/catalogue?attribute=fit%3Dslim", headers=buyer).get_data(as_text=True)
    assert "Trouser" in html and "/api/products/pub1/image" in html and "pub2" not in html


# --- models, activity ------------------------------------------------------------------------


def test_the_catalogue_shows_the_newest_published_products_a_page_at_a_time(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    for n in range(5):  # published one after another: c4 is the newest
        make_product(f"c{n}", "seller-ann", status=contract.PUBLISHED, conf=0.99)
    buyer = people["buyer"].headers
    seen, after = [], ""
    while True:
        body = client.get(f"/api/catalogue?limit=2&after={after}", headers=buyer).get_json()
        seen.append([p["id"] for p in body["products"]])
        if not body["next"]:
            break
        after = body["next"]
    assert seen == [["c4", "c3"], ["c2", "c1"], ["c0"]]
    html = client.get("/views/catalogue?limit=2", headers=buyer).get_data(as_text=True)
    assert "data-next-page" in html


def test_the_catalogue_can_be_rebuilt_from_the_products(client: FlaskClient, people: dict[str, Person]) -> None:
    """A project whose products were published before the view existed: ``fashiontag catalogue
    rebuild`` writes their entries and drops those of products no longer published."""
    make_product("old-pub", "seller-ann", status=contract.PUBLISHED, conf=0.99)
    catalogue.ref("old-pub").delete()  # published before catalogue/ existed
    catalogue.ref("gone").set({"spec": {"category": "bag"}, "updated_at": firestore.SERVER_TIMESTAMP})
    buyer = people["buyer"].headers
    assert client.get("/api/catalogue", headers=buyer).get_json()["products"][0]["id"] == "gone"
    assert catalogue.rebuild() == {"written": 1, "removed": 1}
    assert [p["id"] for p in client.get("/api/catalogue", headers=buyer).get_json()["products"]] == ["old-pub"]
    assert catalogue.rebuild() == {"written": 1, "removed": 0}


def test_models_view_shows_an_empty_state_and_the_retrain_button_publishes_a_request(
    client: FlaskClient, people: dict[str, Person], stack: StackConfig
) -> None:
    headers = people["manager"].headers
    html = client.get("/views/models", headers=headers).get_data(as_text=True)
    assert "No model versions are registered yet" in html and "Start retraining" in html
    tap = EventTap(stack.url("pubsub"), stack.project, contract.TOPIC_RETRAIN_REQUESTS)
    try:
        # min_new_labels: the run records itself and skips training (no job on the test stack).
        response = client.post("/api/retrain", json={"model": "category", "min_new_labels": 100000}, headers=headers)
        assert response.status_code == 202
        request_id = response.get_json()["request_id"]
        messages = tap.drain()
    finally:
        tap.close()
    assert len(messages) == 1
    data = messages[0]["data"]
    assert data["type"] == "retrain.requested" and data["request_id"] == request_id
    assert data["model"] == "category" and data["requested_by"] == people["manager"].uid
    assert client.post("/api/retrain", json={"model": "colour"}, headers=headers).status_code == 400
    assert client.post("/api/retrain", json={"epochs": 0}, headers=headers).status_code == 400


def test_activity_lists_recent_changes_and_messages(client: FlaskClient, people: dict[str, Person]) -> None:
    make_product("act", "seller-ann")
    headers = people["manager"].headers
    client.post("/api/products/act/verify", json={}, headers=headers)
    client.post("/api/messages", json={"text": "thanks"}, headers=people["seller"].headers)
    body = client.get("/api/activity", headers=headers).get_json()
    assert [(e["kind"], e.get("action") or e.get("text")) for e in body["entries"]] == [
        ("message", "thanks"),
        ("history", "verify"),
    ]
    assert body["entries"][1]["product_id"] == "act" and body["next"] is None
    html = client.get("/views/activity", headers=headers).get_data(as_text=True)
    assert "verify" in html and "thanks" in html


def test_registered_versions_are_listed_with_their_reports(
    client: FlaskClient, people: dict[str, Person], tmp_path: Path
) -> None:
    from fashiontag import registry

    (tmp_path / "model.json").write_text('{"name": "category", "version": "v9"}')
    (tmp_path / "report.json").write_text('{"test_accuracy": 0.912}')
    registry.register(
        "category",
        "v9",
        tmp_path,
        {"test_accuracy": 0.912, "frozen_eval": {"accuracy": 0.905}, "gate": {"reasons": ["better by 0.01"]}},
        {"source": "test"},
    )
    headers = people["manager"].headers
    html = client.get("/views/models", headers=headers).get_data(as_text=True)
    assert 'data-version="v9"' in html and "0.912" in html and "better by 0.01" in html
    assert "/api/models/category/versions/v9/files/report.json" in html
    report = client.get("/api/models/category/versions/v9/files/report.json", headers=headers)
    assert report.status_code == 200 and report.get_json() == {"test_accuracy": 0.912}
    assert client.get("/api/models/category/versions/v9/files/model.tflite", headers=headers).status_code == 404
    assert (
        client.get("/api/models/category/versions/v9/files/report.json", headers=people["seller"].headers).status_code
        == 403
    )
