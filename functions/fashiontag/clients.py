"""Google Cloud clients, created once per instance on first use (DESIGN.md section 8).

Each client honours its emulator variable (FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST,
STORAGE_EMULATOR_HOST), so the same code talks to the local stack and to the cloud.
"""

from __future__ import annotations

import os
import warnings
from functools import cache

from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.pubsub_v1.types import BatchSettings, PullResponse
from google.cloud.storage import Client as StorageClient

from fashiontag import config


@cache
def firestore_client() -> firestore.Client:
    return firestore.Client(project=config.project())


@cache
def storage_client() -> StorageClient:
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return StorageClient(project=config.project(), credentials=AnonymousCredentials())
    return StorageClient(project=config.project())


@cache
def publisher() -> PublisherClient:
    # Handlers publish one event and wait for it: batching would only add its 10 ms wait.
    return PublisherClient(batch_settings=BatchSettings(max_messages=1))


@cache
def subscriber() -> SubscriberClient:
    return SubscriberClient()


def pull_at_once(subscription_path: str, max_messages: int) -> PullResponse:
    """One pull that answers at once, empty when nothing waits.

    ``return_immediately`` is deprecated, yet a waiting pull holds its caller for the whole
    timeout whenever a subscription is empty (each dead-letter subscription, every reconcile
    run), and on the emulator a waiting pull the client gave up on may still hand messages out.
    """
    request = {"subscription": subscription_path, "max_messages": max_messages, "return_immediately": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return subscriber().pull(request=request, timeout=10)


def reset() -> None:
    """Forget every client (tests that switch emulators between runs)."""
    for factory in (firestore_client, storage_client, publisher, subscriber):
        factory.cache_clear()
