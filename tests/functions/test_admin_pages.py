"""Every list of the admin page is paged by Firestore cursors (the issue on the admin page for
people, item 5): nothing past a cap is out of reach, no page repeats or skips an item."""

from __future__ import annotations

import datetime as dt
from typing import Any

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


def every_page(client: FlaskClient, person: Person, path: str, key: str) -> list[list[str]]:
    """The ids of each page of ``path``, following ``next`` to the end."""
    pages: list[list[str]] = []
    after = ""
    while len(pages) < 50:
        sep = "&" if "?" in path else "?"
        response = client.get(f"{path}{sep}after={after}", headers=person.headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append([row["id"] for row in body[key]])
        if not body["next"]:
            return pages
        after = body["next"]
    raise AssertionError("the pages never end")


def test_the_queue_pages_through_every_product_in_order_whatever_the_filter(client: FlaskClient) -> None:
    manager = add_person("pat@pages.test", "manager")
    for n, conf in enumerate((0.9, 0.8, 0.7, 0.6, 0.5)):
        make_product(f"q{n}", "seller-ann", conf=conf, label="trouser" if n % 2 else "dress")
    make_product("r0", "seller-ann", status=contract.REJECTED)
    make_product("r1", "seller-ann", status=contract.RECEIVED)

    assert every_page(client, manager, "/api/products?limit=2", "products") == [["q4", "q3"], ["q2", "q1"], ["q0"]]
    # All statuses: those with a confidence, lowest first, then those without, newest first.
    assert every_page(client, manager, "/api/products?status=all&limit=3", "products") == [
        ["q4", "q3", "q2"],
        ["q1", "q0", "r1"],
        ["r0"],
    ]
    # The category filter applies while reading: pages still follow on without a gap.
    assert every_page(client, manager, "/api/products?category=trouser&limit=1", "products")[:2] == [["q3"], ["q1"]]
    assert every_page(client, manager, "/api/products?status=all&sort=newest&limit=4", "products") == [
        ["r1", "r0", "q4", "q3"],
        ["q2", "q1", "q0"],
    ]
    html = client.get("/views/queue?limit=2", headers=manager.headers).get_data(as_text=True)
    assert "data-next-page" in html and "data-first-page" not in html


def test_a_broken_or_foreign_page_token_is_a_clear_400(client: FlaskClient) -> None:
    manager = add_person("pia@pages.test", "manager")
    make_product("x1", "seller-ann")
    for token in ("%%%", "bm90LWEtcGF0aA", "dXNlcnMvYW55b25l", "cHJvZHVjdHMvZ29uZQ"):  # junk, users/anyone, gone
        response = client.get(f"/api/products?after={token}", headers=manager.headers)
        assert response.status_code == 400, token
        assert "start again from the first page" in response.get_json()["error"]
    assert client.get("/api/activity?after=e30", headers=manager.headers).status_code == 200  # "{}": from the start
    assert client.get("/api/activity?after=W10", headers=manager.headers).status_code == 400  # "[]"


def _notification(nid: str, to: str, at: dt.datetime) -> None:
    clients.firestore_client().collection(contract.NOTIFICATIONS).document(nid).set(
        {"to": to, "kind": "manager.notice", "title": nid, "body": "b", "read": False, "created_at": at}
    )


def test_notifications_page_through_personal_and_role_ones_newest_first(client: FlaskClient) -> None:
    ann = add_person("ann@pages.test", "seller", "seller-ann-g")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for n in range(7):
        to = "role:seller" if n % 3 == 0 else ann.uid
        _notification(f"n{n}", to, start + dt.timedelta(minutes=n))
    _notification("other", "seller-bob-g", start + dt.timedelta(minutes=30))
    _notification("managers", "role:manager", start + dt.timedelta(minutes=31))
    assert every_page(client, ann, "/api/notifications?limit=3", "notifications") == [
        ["n6", "n5", "n4"],
        ["n3", "n2", "n1"],
        ["n0"],
    ]
    body = client.get("/api/notifications", headers=ann.headers).get_json()
    assert body["unread"] == 7
    client.post("/api/notifications/n3/read", json={}, headers=ann.headers)
    assert client.get("/api/notifications", headers=ann.headers).get_json()["unread"] == 6
    page = client.get("/views/notifications", headers=ann.headers).get_data(as_text=True)
    assert "6 unread" in page


def test_the_activity_log_pages_through_reviews_and_messages_merged_by_time(client: FlaskClient) -> None:
    manager = add_person("max@pages.test", "manager")
    db = clients.firestore_client()
    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    expected: list[tuple[dt.datetime, str]] = []
    for n in range(5):
        at = start + dt.timedelta(minutes=2 * n)
        ref = db.collection(contract.PRODUCTS).document(f"a{n}").collection(contract.HISTORY).document("1")
        ref.set({"n": 1, "by": manager.uid, "at": at, "action": "verify", "before": {}, "after": {}})
        expected.append((at, f"history:a{n}"))
    for n in range(4):
        at = start + dt.timedelta(minutes=2 * n + 1)
        db.collection(contract.MESSAGES).document(f"m{n}").set(
            {"from": "seller-x", "from_role": "seller", "to": contract.MANAGERS, "text": f"m{n}", "created_at": at}
        )
        expected.append((at, f"message:m{n}"))
    want = [name for _, name in sorted(expected, reverse=True)]

    def label(entry: dict[str, Any]) -> str:
        return f"history:{entry['product_id']}" if entry["kind"] == "history" else f"message:{entry['id']}"

    seen: list[str] = []
    after, turns = "", 0
    while True:
        body = client.get(f"/api/activity?limit=2&after={after}", headers=manager.headers).get_json()
        assert len(body["entries"]) <= 2
        seen += [label(e) for e in body["entries"]]
        turns += 1
        if not body["next"]:
            break
        after = body["next"]
    assert seen == want and turns == 5
    html = client.get("/views/activity", headers=manager.headers).get_data(as_text=True)
    assert "m3" in html and "data-next-page" not in html


def test_messages_page_for_managers_and_for_a_seller_both_directions(client: FlaskClient) -> None:
    manager = add_person("mo@pages.test", "manager")
    sue = add_person("sue@pages.test", "seller", "seller-sue-g")
    db = clients.firestore_client()
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for n in range(6):
        sent = n % 2 == 0
        db.collection(contract.MESSAGES).document(f"s{n}").set(
            {
                "from": sue.uid if sent else manager.uid,
                "from_role": "seller" if sent else "manager",
                "to": contract.MANAGERS if sent else sue.uid,
                "text": f"s{n}",
                "created_at": start + dt.timedelta(minutes=n),
            }
        )
    db.collection(contract.MESSAGES).document("elsewhere").set(
        {
            "from": "b",
            "from_role": "buyer",
            "to": contract.MANAGERS,
            "text": "x",
            "created_at": firestore.SERVER_TIMESTAMP,
        }
    )
    assert every_page(client, sue, "/api/messages?limit=4", "messages") == [["s5", "s4", "s3", "s2"], ["s1", "s0"]]
    assert every_page(client, manager, "/api/messages?limit=4&from_role=seller", "messages") == [["s4", "s2", "s0"]]
    assert every_page(client, manager, "/api/messages?limit=5", "messages") == [
        ["elsewhere", "s5", "s4", "s3", "s2"],
        ["s1", "s0"],
    ]


def test_a_seller_pages_through_their_own_photos(client: FlaskClient) -> None:
    ann = add_person("ann2@pages.test", "seller", "seller-ann-h")
    for n in range(5):
        make_product(f"h{n}", ann.uid)
    make_product("theirs", "seller-bob-h")
    pages = every_page(client, ann, "/api/seller/products?limit=2", "products")
    assert pages == [["h4", "h3"], ["h2", "h1"], ["h0"]]
    html = client.get("/views/seller", headers=ann.headers).get_data(as_text=True)
    assert "h0" in html and "theirs" not in html
