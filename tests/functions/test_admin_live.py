"""Live updates (the issue on the admin page for people, item 4): ``/api/live`` streams a
person's notifications and products as they change, from Firestore listeners."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app
from google.cloud import firestore

from fashiontag import clients, contract
from fashiontag.local.stack import StackConfig
from tests.functions.test_admin import SOURCE, add_person, make_product


@pytest.fixture
def client(stack: StackConfig, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setattr("fashiontag.admin.live.STREAM_S", 12.0)
    return create_app("admin", str(SOURCE), "http").test_client()


def events(chunks: Iterable[str] | Iterable[bytes]) -> Iterator[tuple[str, dict]]:
    """(event, data) of each server-sent event, as the chunks arrive."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":")
            if "event" in fields:
                yield fields["event"], json.loads(fields["data"])


def later(seconds: float, action: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_seller_hears_of_a_new_notification_and_a_status_change_without_asking(client: FlaskClient) -> None:
    ann = add_person("ann@live.test", "seller", "seller-ann-l")
    make_product("live1", ann.uid, conf=0.5)
    make_product("other", "seller-bob-l", conf=0.5)
    db = clients.firestore_client()
    response = client.get("/api/live", headers=ann.headers, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    stream = events(response.response)
    assert next(stream) == ("notifications", {"unread": 0})  # the count at the start

    def changes() -> None:
        db.collection(contract.PRODUCTS).document("other").update({"status": contract.VERIFIED})  # not hers
        db.collection(contract.PRODUCTS).document("live1").update({"status": contract.VERIFIED})
        db.collection(contract.NOTIFICATIONS).document("n-live").set(
            {"to": ann.uid, "title": "t", "body": "b", "read": False, "created_at": firestore.SERVER_TIMESTAMP}
        )

    later(1.0, changes)
    seen: dict[str, dict] = {}
    for kind, data in stream:
        seen[kind] = data
        if {"products", "notifications"} <= set(seen) and seen["notifications"]["unread"] == 1:
            break
    assert seen["products"] == {"ids": ["live1"]}
    assert seen["notifications"] == {"unread": 1}
    response.close()


def test_the_managers_queue_and_a_role_notification_reach_every_manager(client: FlaskClient) -> None:
    mia = add_person("mia@live.test", "manager")
    db = clients.firestore_client()
    response = client.get("/api/live", headers=mia.headers, buffered=False)
    stream = events(response.response)
    assert next(stream) == ("notifications", {"unread": 0})

    def arrivals() -> None:
        make_product("fresh", "seller-x", status=contract.NEEDS_REVIEW, conf=0.4)
        db.collection(contract.NOTIFICATIONS).document("n-all").set(
            {
                "to": contract.MANAGERS,
                "title": "t",
                "body": "b",
                "read": False,
                "created_at": firestore.SERVER_TIMESTAMP,
            }
        )

    later(1.0, arrivals)
    seen: dict[str, dict] = {}
    for kind, data in stream:
        seen[kind] = data
        if "products" in seen and seen.get("notifications", {}).get("unread") == 1:
            break
    assert "fresh" in seen["products"]["ids"]
    response.close()


def test_the_stream_ends_on_time_and_refuses_the_signed_out(client: FlaskClient, monkeypatch) -> None:
    monkeypatch.setattr("fashiontag.admin.live.STREAM_S", 1.0)
    bea = add_person("bea@live.test", "buyer")
    started = time.monotonic()
    body = "".join(
        c.decode() if isinstance(c, bytes) else c
        for c in client.get("/api/live", headers=bea.headers, buffered=False).response
    )
    assert time.monotonic() - started < 8
    assert body.startswith("retry: ") and "event: notifications" in body
    assert client.get("/api/live").status_code == 401
