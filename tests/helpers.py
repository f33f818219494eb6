"""Helpers for tests against the local stack: uploads, bounded polling, event capture."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from fashiontag import clients, config, contract, polling, products


def upload(
    name: str, data: bytes, content_type: str = "image/jpeg", metadata: dict[str, str] | None = None
) -> tuple[str, str]:
    """Write an object (with custom ``metadata``, if any) into the upload bucket; returns
    (generation, product id)."""
    blob = clients.storage_client().bucket(config.upload_bucket()).blob(name)
    blob.metadata = metadata
    blob.upload_from_string(data, content_type=content_type)
    generation = str(blob.generation)
    return generation, contract.product_id(config.upload_bucket(), name, generation)


T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None], timeout_s: float, failure: Callable[[], str], interval_s: float = 0.1
) -> T:
    """The first result of ``probe`` that is not None or empty, polled every ``interval_s``.

    The tests' face of fashiontag.polling.poll: after ``timeout_s`` the test fails with
    ``failure()``, which can show the state the wait gave up on.
    """
    result = polling.poll(probe, timeout_s, interval_s)
    if result is None:
        raise AssertionError(f"{failure()} (waited {timeout_s} s)")
    return result


def wait_finished(product_id: str, timeout_s: float = 15.0) -> dict[str, Any]:
    """The product once terminal and published; fails the test after ``timeout_s``."""

    def finished() -> dict[str, Any] | None:
        doc = products.get(product_id)
        return doc if doc and products.is_finished(doc) else None

    return wait_until(finished, timeout_s, lambda: f"product {product_id} not finished: {products.get(product_id)}")


def sign_in(email: str, password: str) -> str:
    """A real ID token from the Auth emulator, signed in through its REST API as a browser would."""
    host = os.environ["FIREBASE_AUTH_EMULATOR_HOST"]
    response = requests.post(
        f"http://{host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword",
        params={"key": "fake-api-key"},
        json={"email": email, "password": password, "returnSecureToken": True},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["idToken"])


def product_count() -> int:
    return sum(1 for _ in clients.firestore_client().collection(contract.PRODUCTS).stream())


class EventTap:
    """A pull subscription on a topic, made per test: sees what is published after it exists."""

    def __init__(self, pubsub_url: str, project: str, topic: str) -> None:
        self.base = f"{pubsub_url}/v1/projects/{project}"
        self.name = f"tap-{topic}-{uuid.uuid4().hex[:8]}"
        response = requests.put(
            f"{self.base}/subscriptions/{self.name}",
            json={"topic": f"projects/{project}/topics/{topic}", "ackDeadlineSeconds": 600},
            timeout=10,
        )
        response.raise_for_status()

    def drain(self, settle_s: float = 1.0) -> list[dict[str, Any]]:
        """Every message received until none has arrived for ``settle_s``."""
        messages: list[dict[str, Any]] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle_s:
            response = requests.post(
                f"{self.base}/subscriptions/{self.name}:pull",
                json={"maxMessages": 100, "returnImmediately": True},
                timeout=10,
            )
            received = response.json().get("receivedMessages", [])
            if received:
                quiet_since = time.monotonic()
                for item in received:
                    message = item["message"]
                    messages.append(
                        {
                            "attributes": message.get("attributes", {}),
                            "data": json.loads(base64.b64decode(message["data"])),
                        }
                    )
                requests.post(
                    f"{self.base}/subscriptions/{self.name}:acknowledge",
                    json={"ackIds": [item["ackId"] for item in received]},
                    timeout=10,
                )
            else:
                time.sleep(0.1)
        return messages

    def close(self) -> None:
        requests.delete(f"{self.base}/subscriptions/{self.name}", timeout=10)
