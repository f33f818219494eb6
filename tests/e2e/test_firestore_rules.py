"""infra/firestore.rules, role by role, allowed and denied, on the Firestore emulator.

The stack loads the rules at ``up``. Clients are played through the emulator's REST API with
an unsigned ID token (the emulator accepts ``alg: none``) carrying the ``role`` custom claim;
the data is seeded with the server client, which bypasses the rules like the functions do.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import pytest
import requests

from fashiontag import clients, contract
from fashiontag.contract import MANAGERS


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def id_token(uid: str, role: str | None, project: str) -> str:
    """A Firebase ID token as the emulator reads it: right claims, no signature."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "sub": uid,
        "user_id": uid,
        "firebase": {"sign_in_provider": "custom", "identities": {}},
    }
    if role is not None:
        claims["role"] = role
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


class Client:
    """One signed-in user (or nobody) talking to Firestore's REST API."""

    def __init__(self, stack, uid: str | None = None, role: str | None = None) -> None:
        self.base = f"{stack.url('firestore')}/v1/projects/{stack.project}/databases/(default)/documents"
        self.headers = {"Authorization": f"Bearer {id_token(uid, role, stack.project)}"} if uid else {}

    def get(self, path: str) -> int:
        return requests.get(f"{self.base}/{path}", headers=self.headers, timeout=10).status_code

    def update(self, path: str, **fields: Any) -> int:
        """PATCH only ``fields`` (an update mask), as a client SDK's update() does."""
        response = requests.patch(
            f"{self.base}/{path}",
            params=[("updateMask.fieldPaths", name) for name in fields],
            json={"fields": {name: _value(value) for name, value in fields.items()}},
            headers=self.headers,
            timeout=10,
        )
        return response.status_code

    def create(self, collection: str, doc_id: str, **fields: Any) -> int:
        response = requests.post(
            f"{self.base}/{collection}",
            params={"documentId": doc_id},
            json={"fields": {name: _value(value) for name, value in fields.items()}},
            headers=self.headers,
            timeout=10,
        )
        return response.status_code

    def delete(self, path: str) -> int:
        return requests.delete(f"{self.base}/{path}", headers=self.headers, timeout=10).status_code

    def query(self, collection: str, where: tuple[str, str] | None = None) -> int:
        parent, _, name = collection.rpartition("/")  # a subcollection: "notifications/n1/reads"
        structured: dict[str, Any] = {"from": [{"collectionId": name}]}
        if where:
            structured["where"] = {
                "fieldFilter": {"field": {"fieldPath": where[0]}, "op": "EQUAL", "value": _value(where[1])}
            }
        response = requests.post(
            f"{self.base}{'/' + parent if parent else ''}:runQuery",
            json={"structuredQuery": structured},
            headers=self.headers,
            timeout=10,
        )
        return response.status_code


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, dict):
        return {"mapValue": {"fields": {k: _value(v) for k, v in value.items()}}}
    if isinstance(value, dt.datetime):
        return {"timestampValue": value.isoformat().replace("+00:00", "Z")}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    return {"stringValue": str(value)}


ALLOWED = 200
DENIED = 403


@pytest.fixture
def seeded(stack) -> None:
    db = clients.firestore_client()
    products = db.collection(contract.PRODUCTS)
    products.document("alice-review").set({"seller_id": "alice", "status": contract.NEEDS_REVIEW})
    products.document("alice-published").set({"seller_id": "alice", "status": contract.PUBLISHED})
    products.document("bob-review").set({"seller_id": "bob", "status": contract.NEEDS_REVIEW})
    products.document("alice-review").collection("history").document("1").set({"by": "mia"})
    notifications = db.collection("notifications")
    db.collection(contract.CATALOGUE).document("alice-published").set({"spec": {"category": "coat"}})
    sellers = f"{contract.ROLE_PREFIX}{contract.SELLER}"
    for nid, to in (
        ("n-alice", "alice"),
        ("n-bob", "bob"),
        ("n-managers", MANAGERS),
        ("n-mia", "mia"),
        ("n-sellers", sellers),
    ):
        notifications.document(nid).set(
            {"to": to, "kind": "product.classified", "title": "t", "body": "b", "product_id": "p", "read": False}
        )
    notifications.document("n-sellers").collection(contract.READS).document("bob").set({"at": dt.datetime.now(dt.UTC)})
    db.collection("messages").document("m1").set(
        {"from": "alice", "from_role": "seller", "to": MANAGERS, "product_id": "alice-review", "text": "hi"}
    )
    db.collection("messages").document("m2").set(
        {"from": "mia", "from_role": "manager", "to": "alice", "product_id": "alice-review", "text": "ok"}
    )
    db.collection(contract.MODELS).document("category").set({"active_version": "v1"})
    db.collection(contract.MODELS).document("category").collection("versions").document("v1").set({"status": "active"})
    db.collection("users").document("alice").set({"role": "seller", "device_tokens": ["t"]})
    db.collection("push_outbox").document("n-alice").set({"tokens": ["t"], "title": "t", "body": "b"})


@pytest.fixture
def alice(stack, seeded) -> Client:
    return Client(stack, "alice", "seller")


@pytest.fixture
def bob(stack, seeded) -> Client:
    return Client(stack, "bob", "seller")


@pytest.fixture
def mia(stack, seeded) -> Client:
    return Client(stack, "mia", "manager")


@pytest.fixture
def bea(stack, seeded) -> Client:
    return Client(stack, "bea", "buyer")


@pytest.fixture
def nobody(stack, seeded) -> Client:
    return Client(stack)


# --- sellers -----------------------------------------------------------------------------------


def test_seller_reads_own_products_only(alice: Client) -> None:
    assert alice.get("products/alice-review") == ALLOWED
    assert alice.get("products/bob-review") == DENIED
    assert alice.query("products", ("seller_id", "alice")) == ALLOWED
    assert alice.query("products") == DENIED  # a query must be provably limited to her own
    assert alice.get("products/alice-review/history/1") == DENIED


def test_seller_writes_no_product(alice: Client) -> None:
    assert alice.update("products/alice-review", status=contract.VERIFIED) == DENIED
    assert alice.update("products/alice-review", spec="coat") == DENIED
    assert alice.create("products", "forged", seller_id="alice", status=contract.PUBLISHED) == DENIED
    assert alice.delete("products/alice-review") == DENIED


def test_seller_reads_own_notifications_and_messages_only(alice: Client) -> None:
    assert alice.get("notifications/n-alice") == ALLOWED
    assert alice.get("notifications/n-bob") == DENIED
    assert alice.get("notifications/n-managers") == DENIED
    assert alice.query("notifications", ("to", "alice")) == ALLOWED
    # Messages name the other side's uid and email: sellers read them through the API only.
    assert alice.get("messages/m1") == DENIED  # from her
    assert alice.get("messages/m2") == DENIED  # to her, from a manager
    assert alice.create("messages", "m3", **{"from": "alice", "to": MANAGERS, "text": "x"}) == DENIED


def test_seller_reads_no_models_other_users_or_pushes(alice: Client, bob: Client) -> None:
    assert alice.get("models/category") == DENIED
    assert alice.get("users/alice") == ALLOWED  # her own profile
    assert bob.get("users/alice") == DENIED
    assert bob.get("messages/m1") == DENIED
    assert alice.get("push_outbox/n-alice") == DENIED


# --- buyers ------------------------------------------------------------------------------------


def test_buyer_reads_the_published_view_never_a_product(bea: Client) -> None:
    # A product document names the seller (uid, upload path) and more: buyers read catalogue/.
    assert bea.get("products/alice-published") == DENIED
    assert bea.get("products/alice-review") == DENIED
    assert bea.query("products", ("status", contract.PUBLISHED)) == DENIED
    assert bea.get("catalogue/alice-published") == ALLOWED
    assert bea.query("catalogue") == ALLOWED
    assert bea.update("catalogue/alice-published", spec="x") == DENIED
    assert bea.create("catalogue", "forged", spec="x") == DENIED
    assert bea.update("products/alice-published", status=contract.VERIFIED) == DENIED


def test_sellers_read_no_catalogue_entry_and_no_one_elses_read_marks(alice: Client, bob: Client) -> None:
    assert alice.get("catalogue/alice-published") == DENIED
    assert alice.get("notifications/n-sellers") == ALLOWED  # addressed to every seller
    # Who else read it is not hers to know: bob's mark is his alone.
    assert alice.get("notifications/n-sellers/reads/bob") == DENIED
    assert alice.query("notifications/n-sellers/reads") == DENIED
    assert bob.get("notifications/n-sellers/reads/bob") == ALLOWED
    now = dt.datetime.now(dt.UTC)
    assert alice.create("notifications/n-sellers/reads", "alice", at=now) == ALLOWED
    assert alice.create("notifications/n-sellers/reads", "carol", at=now) == DENIED
    assert alice.create("notifications/n-bob/reads", "alice", at=now) == DENIED  # not hers
    assert alice.create("notifications/n-managers/reads", "alice", at=now) == DENIED
    assert alice.update("notifications/n-sellers", read=True) == DENIED  # the shared flag


# --- managers ----------------------------------------------------------------------------------


def test_manager_reads_everything_managers_need(mia: Client) -> None:
    for path in (
        "products/alice-review",
        "products/bob-review",
        "products/alice-review/history/1",
        "notifications/n-managers",
        "notifications/n-mia",
        "messages/m1",
        "messages/m2",
        "models/category",
        "models/category/versions/v1",
        "users/alice",
        "catalogue/alice-published",
    ):
        assert mia.get(path) == ALLOWED, path
    assert mia.query("products") == ALLOWED
    assert mia.get("notifications/n-alice") == DENIED  # a seller's own notification
    assert mia.get("push_outbox/n-alice") == DENIED


def test_manager_changes_nothing_directly(mia: Client) -> None:
    """Managers change specifications through the admin function, never from the client."""
    assert mia.update("products/alice-review", status=contract.VERIFIED) == DENIED
    assert mia.update("products/alice-review", spec="coat") == DENIED
    assert mia.update("models/category", active_version="v2") == DENIED
    assert mia.create("notifications", "forged", to="alice", read=False) == DENIED
    assert mia.update("users/alice", role="manager") == DENIED


# --- notifications: reading and marking read ---------------------------------------------------


def test_recipient_marks_a_notification_read(alice: Client) -> None:
    assert alice.update("notifications/n-alice", read=True) == ALLOWED
    doc = clients.firestore_client().collection("notifications").document("n-alice").get().to_dict()
    assert doc is not None and doc["read"] is True and doc["body"] == "b"


def test_nobody_else_marks_it_read_and_nobody_rewrites_it(alice: Client, bob: Client) -> None:
    assert bob.update("notifications/n-alice", read=True) == DENIED
    assert alice.update("notifications/n-alice", body="You won a car") == DENIED
    assert alice.update("notifications/n-alice", read=True, body="x") == DENIED
    assert alice.update("notifications/n-alice", read="yes") == DENIED
    assert alice.delete("notifications/n-alice") == DENIED
    assert alice.create("notifications", "mine", to="alice", read=False) == DENIED


def test_a_manager_marks_a_managers_notification_read_for_herself_only(mia: Client, stack) -> None:
    now = dt.datetime.now(dt.UTC)
    # The shared flag would mark it read for every manager: refused; her own mark is allowed.
    assert mia.update("notifications/n-managers", read=True) == DENIED
    assert mia.create("notifications/n-managers/reads", "mia", at=now) == ALLOWED
    assert mia.create("notifications/n-managers/reads", "max", at=now) == DENIED
    assert mia.create("notifications/n-managers/reads", "mia2", at="yes") == DENIED
    assert mia.update("notifications/n-managers", title="x") == DENIED
    max_ = Client(stack, "max", "manager")
    assert max_.get("notifications/n-managers/reads/mia") == DENIED
    assert max_.delete("notifications/n-managers/reads/mia") == DENIED
    assert max_.create("notifications/n-managers/reads", "max", at=now, extra="x") == DENIED
    assert max_.create("notifications/n-managers/reads", "max", at=now) == ALLOWED


# --- nobody signed in --------------------------------------------------------------------------


def test_unauthenticated_reads_and_writes_nothing(nobody: Client, stack) -> None:
    for path in (
        "products/alice-published",
        "catalogue/alice-published",
        "notifications/n-managers",
        "messages/m1",
        "models/category",
    ):
        assert nobody.get(path) == DENIED, path
    assert nobody.update("notifications/n-alice", read=True) == DENIED
    no_role = Client(stack, "eve", None)
    assert no_role.get("products/alice-published") == DENIED
    assert no_role.get("notifications/n-managers") == DENIED
