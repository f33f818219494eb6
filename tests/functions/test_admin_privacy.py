"""What the API shows a seller of other people (the issue on the admin page for people, item 9):
no other user's uid, no manager's uid or email, only the seller's own read state."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app
from google.cloud import firestore

from fashiontag import clients, contract
from fashiontag.local.stack import StackConfig
from tests.functions.test_admin import SOURCE, Person, add_person, make_product


@pytest.fixture
def client(stack: StackConfig) -> FlaskClient:
    return create_app("admin", str(SOURCE), "http").test_client()


def test_a_role_notification_shows_a_seller_only_their_own_read_state(client: FlaskClient) -> None:
    ann, bob = (
        add_person("ann@privacy.test", "seller", "seller-ann-p"),
        add_person("bob@privacy.test", "seller", "seller-bob-p"),
    )
    clients.firestore_client().collection(contract.NOTIFICATIONS).document("n-sellers").set(
        {
            "to": "role:seller",
            "kind": "manager.notice",
            "title": "Hello sellers",
            "body": "b",
            "read": False,
            "created_at": firestore.SERVER_TIMESTAMP,
        }
    )
    assert client.post("/api/notifications/n-sellers/read", json={}, headers=bob.headers).status_code == 200
    listed = client.get("/api/notifications", headers=ann.headers).get_json()["notifications"]
    (mine,) = [n for n in listed if n["id"] == "n-sellers"]
    assert mine["read"] is False and "read_by" not in mine
    assert bob.uid not in json.dumps(listed)
    # Bob's mark is his own document, which the rules let no one else read.
    reads = (
        clients.firestore_client().collection(contract.NOTIFICATIONS).document("n-sellers").collection(contract.READS)
    )
    assert [snap.id for snap in reads.stream()] == [bob.uid]
    assert bob.uid not in json.dumps(reads.parent.get().to_dict(), default=str)


def test_a_seller_sees_that_a_manager_reviewed_not_who(client: FlaskClient) -> None:
    manager: Person = add_person("mia@privacy.test", "manager")
    seller: Person = add_person("sue@privacy.test", "seller", "seller-sue-p")
    make_product("priv1", "seller-sue-p", conf=0.5)
    assert client.post("/api/products/priv1/verify", json={}, headers=manager.headers).status_code == 200
    shown = client.get("/api/products/priv1", headers=seller.headers).get_json()
    text = json.dumps(shown)
    assert manager.uid not in text and manager.email not in text
    assert shown["history"] and {e["by"] for e in shown["history"]} == {"a manager"}
    # Managers still see who did what.
    assert manager.email in json.dumps(client.get("/api/products/priv1", headers=manager.headers).get_json())


def test_a_sender_is_named_as_the_users_record_says_not_as_their_token_says(client: FlaskClient) -> None:
    from firebase_admin import auth

    from fashiontag.admin import identity
    from tests.functions.test_admin import PASSWORD
    from tests.helpers import sign_in

    identity.add_user("sly@privacy.test", "seller", PASSWORD, "Sly Seller", "seller-sly-p")
    # The seller changes the email of their own account (the Auth API lets them): the token says so.
    auth.update_user("seller-sly-p", email="ceo@fashiontag.test", app=identity.firebase_app())
    token = sign_in("ceo@fashiontag.test", PASSWORD)
    sent = client.post(
        "/api/messages", json={"text": "pay me", "to": "role:manager"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert sent.status_code < 300, sent.get_json()
    stored = clients.firestore_client().collection(contract.MESSAGES).document(sent.get_json()["message_id"]).get()
    doc = stored.to_dict() or {}
    assert doc["from_name"] == "Sly Seller" and doc["from_email"] == "sly@privacy.test"
    assert "ceo@" not in json.dumps(doc, default=str)


def test_mark_all_read_marks_only_what_the_caller_sees_and_only_for_them(client: FlaskClient) -> None:
    ann = add_person("ann2@privacy.test", "seller", "seller-ann2-p")
    bob = add_person("bob2@privacy.test", "seller", "seller-bob2-p")
    notifications = clients.firestore_client().collection(contract.NOTIFICATIONS)
    notifications.document("n-ann").set(
        {"to": ann.uid, "title": "t", "body": "b", "read": False, "created_at": firestore.SERVER_TIMESTAMP}
    )
    notifications.document("n-bob").set(
        {"to": bob.uid, "title": "t", "body": "b", "read": False, "created_at": firestore.SERVER_TIMESTAMP}
    )
    notifications.document("n-all").set(
        {"to": "role:seller", "title": "t", "body": "b", "read": False, "created_at": firestore.SERVER_TIMESTAMP}
    )
    page = client.get("/views/notifications", headers=ann.headers).get_data(as_text=True)
    assert "2 unread" in page and "Mark all read" in page
    answer = client.post("/api/notifications/read-all", json={}, headers=ann.headers)
    assert answer.status_code == 200 and answer.get_json() == {"marked": 2}
    mine = client.get("/api/notifications", headers=ann.headers).get_json()["notifications"]
    assert {n["id"]: n["read"] for n in mine} == {"n-ann": True, "n-all": True}
    theirs = client.get("/api/notifications", headers=bob.headers).get_json()["notifications"]
    assert {n["id"]: n["read"] for n in theirs} == {"n-bob": False, "n-all": False}
    assert "unread" not in client.get("/views/notifications", headers=ann.headers).get_data(as_text=True)


def test_a_sellers_conversation_names_the_manager_without_their_uid_or_email(client: FlaskClient) -> None:
    manager: Person = add_person("max@privacy.test", "manager")
    seller: Person = add_person("sal@privacy.test", "seller", "seller-sal-p")
    sent = client.post("/api/messages", json={"to": seller.uid, "text": "Please reshoot"}, headers=manager.headers)
    assert sent.status_code == 201, sent.get_json()
    client.post("/api/messages", json={"text": "Will do"}, headers=seller.headers)
    listed = client.get("/api/messages", headers=seller.headers).get_json()["messages"]
    assert [(m["text"], m["mine"], m["to"]) for m in listed] == [
        ("Will do", True, "the managers"),
        ("Please reshoot", False, "you"),
    ]
    # The manager's name as the users record holds it (managers control it), never the email.
    assert listed[0]["from_name"] == "you" and listed[1]["from_name"] == "max"
    shown = json.dumps(listed)
    assert manager.uid not in shown and "max@privacy.test" not in shown
    assert manager.uid not in client.get("/views/seller", headers=seller.headers).get_data(as_text=True)
