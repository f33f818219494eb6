"""Google Cloud clients, created once per instance on first use (DESIGN.md section 8).

Each client honours its emulator variable (FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST,
STORAGE_EMULATOR_HOST), so the same code talks to the local stack and to the cloud.
"""

from __future__ import annotations

import os
from functools import cache

from google.cloud import firestore, pubsub_v1, storage

from fashiontag import config


@cache
def firestore_client() -> firestore.Client:
    return firestore.Client(project=config.project())


@cache
def storage_client() -> storage.Client:
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=config.project(), credentials=AnonymousCredentials())
    return storage.Client(project=config.project())


@cache
def publisher() -> pubsub_v1.PublisherClient:
    return pubsub_v1.PublisherClient()


def reset() -> None:
    """Forget every client (tests that switch emulators between runs)."""
    for factory in (firestore_client, storage_client, publisher):
        factory.cache_clear()
