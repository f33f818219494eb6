"""The Pub/Sub topology: topics, push subscriptions, retry and dead-letter settings.

One declaration read by the local stack (which creates it on the emulator) and checked against
the cloud definitions, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass

from fashiontag import contract

# Local only: fake-gcs-server publishes bucket notifications here; in the cloud Eventarc
# delivers the same objects to on_upload directly.
UPLOAD_NOTIFICATIONS = "upload-bucket-notifications"


@dataclass(frozen=True)
class RetryPolicy:
    minimum_backoff_s: int = 1
    maximum_backoff_s: int = 60


@dataclass(frozen=True)
class PushSubscription:
    name: str
    topic: str
    target: str  # the service (function or bridge) it pushes to
    ack_deadline_s: int = 60
    max_delivery_attempts: int = 10
    retry: RetryPolicy = RetryPolicy()

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter(self.topic)


def dead_letter(topic: str) -> str:
    return f"{topic}-dead-letter"


TOPICS: tuple[str, ...] = contract.TOPICS

# Push subscriptions to the functions that exist. Later functions add theirs here.
LOCAL_SUBSCRIPTIONS: tuple[PushSubscription, ...] = (
    PushSubscription(
        name="upload-bucket-notifications-bridge",
        topic=UPLOAD_NOTIFICATIONS,
        target="storage_bridge",
        # Backing off to a minute, ten attempts take about four minutes before the dead letter.
        retry=RetryPolicy(minimum_backoff_s=1, maximum_backoff_s=60),
    ),
    # notify: one entry point, one subscription per topic it consumes.
    *(
        PushSubscription(name=f"{topic}-notify", topic=topic, target="notify")
        for topic in (contract.TOPIC_PRODUCT_EVENTS, contract.TOPIC_MODEL_EVENTS, contract.TOPIC_MESSAGE_EVENTS)
    ),
    # classify re-scores the products awaiting review when a category version is promoted.
    PushSubscription(name="model-events-classify", topic=contract.TOPIC_MODEL_EVENTS, target="classify"),
    # retrain records the request and starts a job, so it answers within the ack deadline;
    # a request that keeps failing goes to the dead-letter topic after five attempts.
    # retrain counts new verified labels on product-events and requests a run past a threshold.
    PushSubscription(name="product-events-retrain", topic=contract.TOPIC_PRODUCT_EVENTS, target="retrain"),
    PushSubscription(
        name="retrain-requests-retrain",
        topic=contract.TOPIC_RETRAIN_REQUESTS,
        target="retrain",
        max_delivery_attempts=5,
        retry=RetryPolicy(minimum_backoff_s=10, maximum_backoff_s=300),
    ),
)


def all_topics(local: bool) -> list[str]:
    """Every topic to create, dead-letter topics included."""
    base = list(TOPICS) + ([UPLOAD_NOTIFICATIONS] if local else [])
    return base + [dead_letter(t) for t in base]
