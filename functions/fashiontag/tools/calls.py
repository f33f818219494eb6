"""Counting the calls this process makes to Firestore, Pub/Sub and Cloud Storage.

Used by the test that holds one upload to its budget of operations and by ``make bench``: the
clients are recreated on gRPC channels that count every RPC by method, and every HTTP request
to the storage emulator is counted by verb. Only for the local stack (emulator channels).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import grpc
import requests

from fashiontag import clients

Calls = collections.Counter[str]


class _Counting(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def _count(self, details: Any) -> None:
        # "/google.firestore.v1.Firestore/Commit" -> "firestore.Commit"
        service, _, method = str(details.method).lstrip("/").partition("/")
        self.calls[f"{service.split('.')[1]}.{method}"] += 1

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        self._count(details)
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        self._count(details)
        return continuation(details, request)


@contextmanager
def counting(storage_url: str) -> Iterator[Calls]:
    """Counts calls made inside the block, as ``firestore.Commit``, ``pubsub.Publish``, ``storage.GET``..."""
    calls: Calls = collections.Counter()
    storage_host = urlsplit(storage_url).netloc
    insecure_channel = grpc.insecure_channel
    session_request = requests.Session.request

    def channel(*args: Any, **kwargs: Any) -> grpc.Channel:
        return grpc.intercept_channel(insecure_channel(*args, **kwargs), _Counting(calls))

    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if urlsplit(url).netloc == storage_host:
            calls[f"storage.{method.upper()}"] += 1
        return session_request(self, method, url, *args, **kwargs)

    grpc.insecure_channel = channel
    requests.Session.request = request  # type: ignore[method-assign,assignment]
    clients.reset()  # the clients of the block are made on counting channels
    try:
        yield calls
    finally:
        grpc.insecure_channel = insecure_channel
        requests.Session.request = session_request  # type: ignore[method-assign]
        clients.reset()
