"""Every bad parameter the admin API can be sent is answered with a 4xx and a message, never a 500
or a 503 "try again", and texts that disguise themselves with direction controls are refused
and what a user can create is limited (a probe of the page found each of these; the issue on the
admin page for people, items 10-12)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from fashiontag.local.stack import StackConfig
from tests.functions.test_admin import SOURCE, Person, add_person, make_product

NESTED = "[" * 100_000 + "]" * 100_000
HUGE = "1" + "0" * 400


@pytest.fixture
def client(stack: StackConfig) -> FlaskClient:
    return create_app("admin", str(SOURCE), "http").test_client()


@pytest.fixture
def manager(stack: StackConfig) -> Person:
    return add_person("bad@input.test", "manager")


def raw(client: FlaskClient, who: Person, path: str, body: str) -> Any:
    return client.post(path, data=body, headers={**who.headers, "Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/messages", '{"text": ' + NESTED + ', "to": "role:seller"}'),
        ("/api/messages", NESTED),
        ("/api/retrain", '{"model": "category", "epochs": NaN}'),
        ("/api/retrain", '{"model": "category", "epochs": Infinity}'),
        ("/api/retrain", '{"model": "category", "epochs": -Infinity}'),
        ("/api/retrain", '{"model": "category", "epochs": 1e400}'),
        ("/api/retrain", '{"model": "category", "min_new_labels": ' + HUGE + "}"),
        ("/api/verify-many", '{"ids": ["p"], "threshold": ' + HUGE + "}"),
        ("/api/verify-many", '{"ids": ["p"], "threshold": NaN}'),
        ("/api/verify-many", '{"ids": ["p"], "threshold": 1e400}'),
    ],
)
def test_bad_json_bodies_are_refused_with_a_message(client: FlaskClient, manager: Person, path: str, body: str) -> None:
    answer = raw(client, manager, path, body)
    assert answer.status_code == 400, (answer.status_code, answer.get_data(as_text=True)[:200])
    assert answer.get_json()["error"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", HUGE, "abc"])
@pytest.mark.parametrize("path", ["/api/products", "/views/queue"])
def test_bad_limits_are_refused_with_a_message(client: FlaskClient, manager: Person, path: str, value: str) -> None:
    answer = client.get(f"{path}?limit={value}", headers=manager.headers)
    assert answer.status_code == 400, (answer.status_code, answer.get_data(as_text=True)[:200])


@pytest.mark.parametrize("product_id", ["__name__", "__x__", "%2e%2e", "..", "."])
@pytest.mark.parametrize("suffix", ["", "/image", "/spec", "/verify"])
def test_ids_firestore_reserves_are_not_found(
    client: FlaskClient, manager: Person, product_id: str, suffix: str
) -> None:
    make_product("real-one", "seller-ann")
    path = f"/api/products/{product_id}{suffix}"
    body = {"category": "trouser", "attributes": {}} if suffix == "/spec" else {}
    if suffix in ("/spec", "/verify"):
        answer = client.post(path, json=body, headers=manager.headers)
    else:
        answer = client.get(path, headers=manager.headers)
    assert answer.status_code in (404, 405), (path, answer.status_code, answer.get_data(as_text=True)[:200])
    assert answer.status_code != 503


@pytest.mark.parametrize("text", ["rlo\u202egnp.exe", "a\u2066b\u2069", "x\u200fy", "\u061cz"])
def test_texts_with_direction_controls_are_refused(client: FlaskClient, manager: Person, text: str) -> None:
    seller = add_person("bidi@input.test", "seller", "seller-bidi")
    for path, body, who in (
        ("/api/messages", {"text": text, "to": "role:manager"}, seller),
        ("/api/notifications", {"to": "seller-bidi", "title": text, "body": "b"}, manager),
        ("/api/notifications", {"to": "seller-bidi", "title": "t", "body": text}, manager),
    ):
        answer = client.post(path, json=body, headers=who.headers)
        assert answer.status_code == 400 and "invisible" in answer.get_json()["error"], (path, answer.get_json())
    fine = client.post("/api/messages", json={"text": "plain, fine", "to": "role:manager"}, headers=seller.headers)
    assert fine.status_code < 300


def test_what_a_user_can_create_is_limited_per_user_with_a_429_that_says_when(
    client: FlaskClient, manager: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fashiontag.admin import limits

    monkeypatch.setattr(limits, "LIMITS", {k: limits.Limit(3, 600, v.what) for k, v in limits.LIMITS.items()})
    seller = add_person("busy@input.test", "seller", "seller-busy")
    other = add_person("calm@input.test", "seller", "seller-calm")
    photo = {"files": [{"name": "a.jpg", "size": 1000, "content_type": "image/jpeg"}]}
    for path, body, who in (
        ("/api/messages", {"text": "hello", "to": "role:manager"}, seller),
        ("/api/notifications", {"to": "seller-busy", "title": "t", "body": "b"}, manager),
        ("/api/uploads", photo, seller),
    ):
        answers = [client.post(path, json=body, headers=who.headers) for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [answers[0].status_code] * 3 and answers[0].status_code < 300
        refused = answers[3]
        assert refused.status_code == 429, (path, refused.get_json())
        assert "try again in" in refused.get_json()["error"] and 0 < int(refused.headers["Retry-After"]) <= 600
    # Another user's count is their own.
    calm = client.post("/api/messages", json={"text": "hi", "to": "role:manager"}, headers=other.headers)
    assert calm.status_code < 300
