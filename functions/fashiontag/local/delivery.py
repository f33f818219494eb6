"""Pub/Sub push as the cloud does it, for the subscriptions the emulator cannot serve well.

Measured on the emulator: a push that fails (connection refused, a 5xx) is retried at once,
about 300 times in 6 seconds, then dropped, and nothing reaches the dead-letter topic. In the
cloud the same subscription backs off between its policy's bounds and, after its last
attempt, dead-letters the message. This process does the cloud's part for the subscriptions
the stack gives it (``deliveries.json``): it pulls (plain pulls), POSTs each message to the
push endpoint in the push body's format, acknowledges on a 2xx, and otherwise leaves the
message unacknowledged, holding it through the policy's next backoff and then trying again;
after ``max_delivery_attempts`` it publishes the message to the dead-letter topic and
acknowledges it. What it has not acknowledged stays in the emulator, so a restart of this
process loses nothing (it only forgets attempt counts).

A subscription is held while ``paused/{name}`` exists in the state folder (``stack.paused``).

    python -m fashiontag.local.delivery STATE_DIR/deliveries.json
"""

from __future__ import annotations

import base64
import datetime as dt
import heapq
import itertools
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from fashiontag import clients

log = logging.getLogger("fashiontag.delivery")

_ACK_STATUSES = {102, 200, 201, 202, 204}  # what Pub/Sub push counts as an acknowledgement
_MAX_ACK_DEADLINE_S = 600


class Later:
    """Runs callables after a delay, from one thread (the retries' backoffs)."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, Callable[[], object]]] = []
        self._count = itertools.count()
        self._ready = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def __call__(self, delay_s: float, job: Callable[[], object]) -> None:
        with self._ready:
            heapq.heappush(self._queue, (time.monotonic() + delay_s, next(self._count), job))
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue or self._queue[0][0] > time.monotonic():
                    self._ready.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                _, _, job = heapq.heappop(self._queue)
            job()


@dataclass(frozen=True)
class Delivery:
    subscription: str
    endpoint: str
    dead_letter_topic: str
    min_backoff_s: int
    max_backoff_s: int
    max_delivery_attempts: int
    ack_deadline_s: int
    paused_marker: str
    concurrency: int = 8

    def backoff_s(self, attempt: int) -> int:
        """Exponential between the policy's bounds: min, 2 min, 4 min, ... max."""
        return int(min(self.max_backoff_s, self.min_backoff_s * 2 ** max(0, attempt - 1)))


def load(path: Path) -> tuple[str, list[Delivery]]:
    spec = json.loads(path.read_text())
    return str(spec["project"]), [Delivery(**entry) for entry in spec["deliveries"]]


class Message(Protocol):
    """What the deliverer needs of a pulled message."""

    @property
    def message_id(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def attributes(self) -> Mapping[str, str]: ...
    @property
    def publish_time(self) -> dt.datetime | None: ...
    @property
    def delivery_attempt(self) -> int: ...

    def ack(self) -> None: ...

    def modify_ack_deadline(self, seconds: int) -> None: ...


@dataclass
class Pulled:
    """One message of a plain pull, acknowledged (or not) on its subscription."""

    subscriber: pubsub_v1.SubscriberClient
    subscription_path: str
    ack_id: str
    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    publish_time: dt.datetime | None
    delivery_attempt: int

    @classmethod
    def of(cls, subscriber: pubsub_v1.SubscriberClient, path: str, received: Any) -> Pulled:
        m = received.message
        when = m.publish_time if m.publish_time else None
        args = (m.message_id, bytes(m.data), dict(m.attributes), when, int(received.delivery_attempt or 0))
        return cls(subscriber, path, received.ack_id, *args)

    def ack(self) -> None:
        self.subscriber.acknowledge(request={"subscription": self.subscription_path, "ack_ids": [self.ack_id]})

    def modify_ack_deadline(self, seconds: int) -> None:
        request = {"subscription": self.subscription_path, "ack_ids": [self.ack_id], "ack_deadline_seconds": seconds}
        self.subscriber.modify_ack_deadline(request=request)


class Deliverer:
    """Delivers one subscription; attempt counts live here (the emulator does not count them).

    ``retry(seconds, message)`` is called after a failed attempt to deliver it again later.
    """

    def __init__(self, project: str, delivery: Delivery, retry: Callable[[float, Message], None]) -> None:
        self.project = project
        self.delivery = delivery
        self.retry = retry
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.session = requests.Session()
        self.publisher = pubsub_v1.PublisherClient()

    def _attempt(self, message: Message) -> int:
        with self.lock:
            seen = self.attempts.get(message.message_id, 0)
            attempt = max(seen + 1, message.delivery_attempt or 0)
            self.attempts[message.message_id] = attempt
            return attempt

    def _forget(self, message: Message) -> None:
        with self.lock:
            self.attempts.pop(message.message_id, None)

    def body(self, message: Message, attempt: int) -> dict[str, Any]:
        published = message.publish_time.isoformat() if message.publish_time else ""
        return {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "attributes": dict(message.attributes),
                "messageId": message.message_id,
                "message_id": message.message_id,
                "publishTime": published,
                "publish_time": published,
            },
            "subscription": f"projects/{self.project}/subscriptions/{self.delivery.subscription}",
            "deliveryAttempt": attempt,
        }

    def __call__(self, message: Message) -> None:
        d = self.delivery
        attempt = self._attempt(message)
        try:
            response = self.session.post(d.endpoint, json=self.body(message, attempt), timeout=d.ack_deadline_s)
            failure = None if response.status_code in _ACK_STATUSES else f"HTTP {response.status_code}"
        except requests.RequestException as error:
            failure = type(error).__name__
        if failure is None:
            self._forget(message)
            message.ack()
        elif attempt >= d.max_delivery_attempts:
            self._dead_letter(message, attempt, failure)
        else:
            wait = d.backoff_s(attempt)
            log.warning(
                "%s: message %s attempt %d failed (%s); next in %d s",
                d.subscription,
                message.message_id,
                attempt,
                failure,
                wait,
            )
            # Held (unacknowledged) through the wait and the next attempt, which this process
            # makes itself; should it die meanwhile, Pub/Sub hands the message out again.
            message.modify_ack_deadline(min(_MAX_ACK_DEADLINE_S, wait + d.ack_deadline_s))
            self.retry(wait, message)

    def _dead_letter(self, message: Message, attempt: int, failure: str) -> None:
        d = self.delivery
        attributes = {
            **message.attributes,
            "CloudPubSubDeadLetterSourceSubscription": d.subscription,
            "CloudPubSubDeadLetterSourceDeliveryCount": str(attempt),
        }
        topic = self.publisher.topic_path(self.project, d.dead_letter_topic)
        self.publisher.publish(topic, message.data, **attributes).result(timeout=30)
        log.error(
            "%s: message %s dead-lettered to %s after %d attempts (%s)",
            d.subscription,
            message.message_id,
            d.dead_letter_topic,
            attempt,
            failure,
        )
        self._forget(message)
        message.ack()


def serve(project: str, delivery: Delivery, stop: threading.Event) -> None:
    """Deliver one subscription until ``stop``; hold while it is paused; resume after errors.

    Plain pulls, and the retries made here after their backoff: measured, the emulator does
    not reliably hand a message out again once a shortened ack deadline has passed.
    """
    subscriber = clients.subscriber()
    path = subscriber.subscription_path(project, delivery.subscription)
    later = Later()
    marker = Path(delivery.paused_marker)
    free = threading.Semaphore(delivery.concurrency)
    with futures.ThreadPoolExecutor(max_workers=delivery.concurrency) as executor:
        deliver = Deliverer(project, delivery, lambda wait, m: later(wait, lambda: executor.submit(deliver, m)))
        while not stop.is_set():
            if marker.exists():
                stop.wait(0.2)
                continue
            try:
                response = clients.pull_at_once(path, delivery.concurrency)
            except gexc.GoogleAPICallError as error:  # the emulator went away or restarted
                log.warning("%s: pull failed (%s); pulling again", delivery.subscription, error)
                stop.wait(1.0)
                continue
            if not response.received_messages:
                stop.wait(0.05)
            for received in response.received_messages:
                free.acquire()
                future = executor.submit(deliver, Pulled.of(subscriber, path, received))
                future.add_done_callback(lambda _: free.release())


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = argv if argv is not None else sys.argv[1:]
    project, deliveries = load(Path(args[0]))
    stop = threading.Event()
    threads = [threading.Thread(target=serve, args=(project, d, stop), daemon=True) for d in deliveries]
    for thread in threads:
        thread.start()
    log.info("delivering %s", ", ".join(d.subscription for d in deliveries))
    while all(t.is_alive() for t in threads):
        time.sleep(1.0)
    return 1  # a delivery thread died: exit, and the supervisor starts a fresh process


if __name__ == "__main__":
    sys.exit(main())
