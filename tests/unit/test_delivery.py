"""fashiontag.local.delivery: the cloud's push retry policy, without the emulator."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from fashiontag.local.delivery import Deliverer, Delivery, Later

POLICY = Delivery(
    subscription="uploads-bridge",
    endpoint="http://127.0.0.1:1/projects/p/topics/t",
    dead_letter_topic="t-dead-letter",
    min_backoff_s=1,
    max_backoff_s=60,
    max_delivery_attempts=4,
    ack_deadline_s=60,
    paused_marker="/nonexistent",
)


@dataclass
class FakeMessage:
    message_id: str = "m1"
    data: bytes = b'{"name": "uploads/a/b.jpg"}'
    attributes: dict[str, str] = field(default_factory=lambda: {"eventType": "OBJECT_FINALIZE"})
    publish_time: dt.datetime = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    delivery_attempt: int = 0
    log: list[Any] = field(default_factory=list)

    def ack(self) -> None:
        self.log.append("ack")

    def modify_ack_deadline(self, seconds: int) -> None:
        self.log.append(("deadline", seconds))


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status_code = status


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    def topic_path(self, project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic: str, data: bytes, **attributes: str) -> Any:
        self.published.append((topic, data, attributes))
        return type("Done", (), {"result": lambda self, timeout=None: "1"})()


@pytest.fixture
def deliverer(monkeypatch: pytest.MonkeyPatch) -> Deliverer:
    monkeypatch.setattr("fashiontag.local.delivery.pubsub_v1.PublisherClient", FakePublisher)
    return Deliverer("p", POLICY, lambda wait, message: message.log.append(("retry in", wait)))  # type: ignore[attr-defined]


def test_backoff_doubles_from_the_minimum_up_to_the_maximum() -> None:
    assert [POLICY.backoff_s(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_later_runs_each_job_after_its_delay_in_order() -> None:
    ran: list[str] = []
    done = threading.Event()
    later = Later()

    def second() -> None:
        ran.append("second")
        done.set()

    later(0.2, second)
    later(0.05, lambda: ran.append("first"))
    assert done.wait(5) and ran == ["first", "second"]


def test_a_delivered_message_is_acknowledged_in_the_push_body_format(
    deliverer: Deliverer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []

    def accepted(url: str, json: dict[str, Any], timeout: float) -> FakeResponse:
        sent.append(json)
        return FakeResponse(204)

    monkeypatch.setattr(deliverer.session, "post", accepted)
    message = FakeMessage()
    deliverer(message)
    assert message.log == ["ack"]
    assert sent[0]["message"]["messageId"] == "m1" and sent[0]["deliveryAttempt"] == 1
    assert sent[0]["subscription"] == "projects/p/subscriptions/uploads-bridge"


def test_failures_back_off_then_end_in_the_dead_letter_topic(
    deliverer: Deliverer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(url: str, json: Any, timeout: float) -> FakeResponse:
        raise requests.ConnectionError("refused")

    monkeypatch.setattr(deliverer.session, "post", refused)
    message = FakeMessage()
    for _ in range(POLICY.max_delivery_attempts):
        deliverer(message)
    # Held unacknowledged through each backoff (and the next attempt's deadline), then tried again.
    assert message.log[:6] == [("deadline", 61), ("retry in", 1), ("deadline", 62), ("retry in", 2),
                               ("deadline", 64), ("retry in", 4)]  # fmt: skip
    assert message.log[6:] == ["ack"]  # the last attempt: dead-lettered, then acknowledged
    publisher: Any = deliverer.publisher
    [(topic, data, attributes)] = publisher.published
    assert topic == "projects/p/topics/t-dead-letter" and data == message.data
    assert attributes["eventType"] == "OBJECT_FINALIZE"
    assert attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(POLICY.max_delivery_attempts)
    assert deliverer.attempts == {}


def test_an_error_status_is_a_failure_too(deliverer: Deliverer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliverer.session, "post", lambda url, json, timeout: FakeResponse(503))
    message = FakeMessage()
    deliverer(message)
    assert message.log == [("deadline", 61), ("retry in", 1)] and deliverer.attempts == {"m1": 1}
