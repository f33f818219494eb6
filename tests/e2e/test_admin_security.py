"""Security of the admin function, over HTTP against the stack's running admin server.

Every /api and /views route (``access.ROUTE_ROLES`` lists them all) refuses a missing, malformed,
expired or role-less token with 401/403, and every role it does not allow with 403; none of
those requests changes Firestore, the bucket or publishes anything. Sellers cannot reach
another seller's products; scripts in messages and feedback come back as inert text.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from firebase_admin import auth
from google.cloud import firestore

from fashiontag import clients, config, contract
from fashiontag.admin import access, identity, web
from fashiontag.local.stack import StackConfig
from tests.helpers import EventTap, sign_in

PASSWORD = "pass-word-1"
SCRIPT = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


@dataclass(frozen=True)
class Caller:
    uid: str
    role: str
    token: str


def _person(email: str, role: str, uid: str) -> Caller:
    identity.add_user(email, role, PASSWORD, None, uid)
    return Caller(uid, role, sign_in(email, PASSWORD))


@pytest.fixture
def world(stack: StackConfig) -> dict[str, Any]:
    """Three roles, a second seller, an account without a role, and something to change."""
    people = {
        "manager": _person("m@sec.test", "manager", "sec-manager"),
        "seller": _person("s@sec.test", "seller", "sec-seller"),
        "buyer": _person("b@sec.test", "buyer", "sec-buyer"),
        "other": _person("o@sec.test", "seller", "sec-other"),
    }
    auth.create_user(uid="sec-norole", email="n@sec.test", password=PASSWORD, app=identity.firebase_app())
    db = clients.firestore_client()
    for pid, seller, status in (("sec-p1", "sec-seller", "needs_review"), ("sec-pub", "sec-other", "published")):
        db.collection(contract.PRODUCTS).document(pid).set(
            {
                "seller_id": seller,
                "status": status,
                "prediction": {"category": {"label": "trouser", "confidence": 0.95, "top": []}},
                "spec": {"category": "trouser", "source": "prediction"},
                "derived": {"thumbnail": f"derived/{pid}/thumbnail.jpg"},
                "image": {"name": f"test-photos/{seller}/{pid}.jpg"},
                "created_at": firestore.SERVER_TIMESTAMP,  # as on_upload writes it
            }
        )
        bucket = clients.storage_client().bucket(config.upload_bucket())
        bucket.blob(f"derived/{pid}/thumbnail.jpg").upload_from_string(b"\xff\xd8\xff", content_type="image/jpeg")
    db.collection("notifications").document("sec-n1").set(
        {"to": "sec-seller", "title": "t", "body": "b", "read": False, "created_at": firestore.SERVER_TIMESTAMP}
    )
    return {"people": people, "norole": sign_in("n@sec.test", PASSWORD)}


def _expired(token: str) -> str:
    """The same token with its lifetime in the past (the emulator's tokens are unsigned)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = int(time.time())
    claims.update(iat=now - 7200, auth_time=now - 7200, exp=now - 3600)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


PATH_VALUES = {
    "product_id": "sec-p1",
    "notification_id": "sec-n1",
    "name": "category",
    "version": "v1",
    "file_name": "report.json",
}
# Bodies that would change something if a check let them through.
BODIES = {
    "/api/products/<product_id>/spec": {"category": "dress", "attributes": {}},
    "/api/verify-many": {"ids": ["sec-p1"], "threshold": 0.1},
    "/api/messages": {"text": "hello", "to": "role:manager"},
    "/api/notifications": {"to": "sec-seller", "title": "t", "body": "b"},
    "/api/uploads": {"files": [{"name": "a.jpg", "size": 10, "content_type": "image/jpeg"}]},
    "/api/retrain": {"model": "category", "min_new_labels": 1000000},
    "/api/models/<name>/promote": {"version": "v1", "reason": "forced"},
}


def _routes() -> list[tuple[str, str, tuple[str, ...]]]:
    web.create_app()  # registers every guarded route in ROUTE_ROLES
    return sorted((method, rule, roles) for (method, rule), roles in access.ROUTE_ROLES.items())


def _call(base: str, method: str, rule: str, token: str | None, scheme: str = "Bearer") -> requests.Response:
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PATH_VALUES[m.group(1)], rule)
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    if method == "GET":
        return requests.get(base + path, headers=headers, timeout=20)
    return requests.post(base + path, json=BODIES.get(rule, {}), headers=headers, timeout=20)


def _state() -> dict[str, Any]:
    db = clients.firestore_client()
    docs: dict[str, Any] = {}
    for name in ("products", "messages", "notifications", "users", "retrain_runs", "models", "model_uploads"):
        for snap in db.collection(name).stream():
            docs[f"{name}/{snap.id}"] = snap.to_dict()
    for group in ("history", "versions"):
        for snap in db.collection_group(group).stream():
            docs[snap.reference.path] = snap.to_dict()
    storage = clients.storage_client()
    objects = sorted(
        b.name for bucket in (config.upload_bucket(), config.model_bucket()) for b in storage.list_blobs(bucket)
    )
    return {"docs": docs, "objects": objects}


@pytest.fixture
def taps(stack: StackConfig) -> Iterator[list[EventTap]]:
    topics = (contract.TOPIC_PRODUCT_EVENTS, contract.TOPIC_MESSAGE_EVENTS, contract.TOPIC_RETRAIN_REQUESTS)
    made = [EventTap(stack.url("pubsub"), stack.project, topic) for topic in topics]
    yield made
    for tap in made:
        tap.close()


def test_every_route_is_guarded(stack: StackConfig) -> None:
    routes = _routes()
    assert len(routes) >= 25
    app = web.create_app()
    unguarded = [
        r.rule
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/api/", "/views/"))
        and not all((m, r.rule) in access.ROUTE_ROLES for m in (r.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    assert unguarded == []


def test_bad_tokens_and_wrong_roles_are_refused_and_change_nothing(
    stack: StackConfig, world: dict[str, Any], taps: list[EventTap]
) -> None:
    base = stack.url("admin")
    people: dict[str, Caller] = world["people"]
    before = _state()
    expired = _expired(people["manager"].token)
    bad_tokens: list[tuple[str | None, str, int]] = [
        (None, "Bearer", 401),  # missing
        ("", "Bearer", 401),
        ("not-a-token", "Bearer", 401),  # malformed
        ("a.b", "Bearer", 401),
        (people["manager"].token, "Basic", 401),  # wrong scheme
        (people["manager"].token[:-30] + "x" * 30, "Bearer", 401),  # mangled payload
        (expired, "Bearer", 401),  # expired
        (world["norole"], "Bearer", 403),  # signed in, no role
    ]
    failures = []
    for method, rule, roles in _routes():
        for token, scheme, expected in bad_tokens:
            response = _call(base, method, rule, token, scheme)
            if response.status_code != expected:
                failures.append(f"{method} {rule} {scheme} {str(token)[:12]}: {response.status_code} != {expected}")
        for role in ("manager", "seller", "buyer"):
            if role not in roles:
                response = _call(base, method, rule, people[role].token)
                if response.status_code != 403:
                    failures.append(f"{method} {rule} as {role}: {response.status_code} != 403")
    assert failures == []
    expired_reply = _call(base, "GET", "/api/me", expired).json()
    assert "expired" in expired_reply["error"]
    assert _state() == before
    assert [tap.drain(settle_s=0.5) for tap in taps] == [[], [], []]


def test_a_seller_cannot_read_or_change_another_sellers_product(stack: StackConfig, world: dict[str, Any]) -> None:
    base = stack.url("admin")
    other = world["people"]["other"].token
    before = _state()
    for path in ("/api/products/sec-p1", "/api/products/sec-p1/image", "/views/products/sec-p1"):
        assert _call(base, "GET", path, other).status_code == 404, path
    for path in ("/api/products/sec-p1/spec", "/api/products/sec-p1/verify", "/api/products/sec-p1/publish"):
        assert _call(base, "POST", path, other).status_code == 403, path
    mine = requests.get(f"{base}/api/seller/products", headers={"Authorization": f"Bearer {other}"}, timeout=10)
    assert [p["id"] for p in mine.json()["products"]] == ["sec-pub"]
    about = requests.post(
        f"{base}/api/messages",
        json={"text": "hi", "product_id": "sec-p1"},
        headers={"Authorization": f"Bearer {other}"},
        timeout=10,
    )
    assert about.status_code == 404
    assert _call(base, "POST", "/api/notifications/<notification_id>/read", other).status_code == 404
    # A file name cannot climb out of the caller's folder.
    sessions = requests.post(
        f"{base}/api/uploads",
        json={"files": [{"name": "../sec-seller/x.jpg", "size": 10, "content_type": "image/jpeg"}]},
        headers={"Authorization": f"Bearer {other}"},
        timeout=10,
    ).json()["sessions"]
    assert sessions[0]["object"].startswith("uploads/sec-other/x-")
    assert _state() == before


def test_scripts_in_messages_and_feedback_come_back_as_text(stack: StackConfig, world: dict[str, Any]) -> None:
    base = stack.url("admin")
    people: dict[str, Caller] = world["people"]
    for who, body in (
        ("buyer", {"text": SCRIPT, "product_id": "sec-pub"}),
        ("seller", {"text": SCRIPT, "product_id": "sec-p1"}),
    ):
        sent = requests.post(
            f"{base}/api/messages", json=body, headers={"Authorization": f"Bearer {people[who].token}"}, timeout=10
        )
        assert sent.status_code == 201
        assert sent.json()["text"] == SCRIPT  # stored as typed; escaping happens where it is shown
    notice = requests.post(
        f"{base}/api/notifications",
        json={"to": "sec-seller", "title": SCRIPT, "body": SCRIPT},
        headers={"Authorization": f"Bearer {people['manager'].token}"},
        timeout=10,
    )
    assert notice.status_code == 201
    pages = [
        ("manager", "/views/messages"),
        ("manager", "/views/messages?from_role=buyer"),
        ("manager", "/views/activity"),
        ("seller", "/views/seller"),
        ("seller", "/views/notifications"),
    ]
    for who, path in pages:
        response = requests.get(base + path, headers={"Authorization": f"Bearer {people[who].token}"}, timeout=10)
        html = response.text
        assert response.status_code == 200, path
        assert "<script>" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html, path
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp  # 'wasm-unsafe-eval' only
    # JSON is JSON: served as application/json, never sniffed into HTML.
    listed = requests.get(
        f"{base}/api/messages", headers={"Authorization": f"Bearer {people['manager'].token}"}, timeout=10
    )
    assert listed.headers["Content-Type"] == "application/json"
    assert listed.headers["X-Content-Type-Options"] == "nosniff"
