"""Pages of a list, turned by Firestore cursors.

A page's ``next`` token names the last document shown (its path, base64url); the following
page starts after that document's snapshot, so Firestore resumes exactly where the order left
off however many documents there are, at the cost of one read per page turned. Offsets would
read (and bill) every skipped document again.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore

from fashiontag import clients
from fashiontag.admin.errors import Invalid
from fashiontag.admin.params import number

MAX_SIZE = 200
_LONG_AGO = dt.datetime.min.replace(tzinfo=dt.UTC)
_BROKEN = "This page link is out of date or broken; start again from the first page."


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next: str | None = None  # the token of the following page; None on the last one


def row(snap: firestore.DocumentSnapshot) -> dict[str, Any]:
    """A document as a row of a page: its id and its fields."""
    return {"id": snap.id, **(snap.to_dict() or {})}


@dataclass(frozen=True)
class Source:
    """One ordered query of a page merged from several (``merge``)."""

    name: str
    query: Callable[[], Any]  # the query, newest first by ``at``
    within: Callable[[str], bool]  # which document paths its tokens may name
    at: Callable[[dict[str, Any]], Any]  # the time a row is ordered by
    shape: Callable[[firestore.DocumentSnapshot], dict[str, Any]] = row


def size(value: Any, default: int) -> int:
    """The page size a request asks for (``limit``), bounded."""
    return max(1, min(MAX_SIZE, int(number(value, "limit") or default)))


def token(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Invalid(_BROKEN) from None


def _snapshot(path: str, within: Callable[[str], bool]) -> firestore.DocumentSnapshot:
    if not within(path):
        raise Invalid(_BROKEN)
    snap = clients.firestore_client().document(path).get()
    if not snap.exists:
        raise Invalid(_BROKEN)
    return snap


def after(cursor: str | None, within: Callable[[str], bool]) -> firestore.DocumentSnapshot | None:
    """The document a page token names (``within`` must accept its path), or None for page one."""
    return _snapshot(_decode(cursor), within) if cursor else None


def collect(
    snapshots: Iterable[firestore.DocumentSnapshot],
    limit: int,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    shape: Callable[[firestore.DocumentSnapshot], dict[str, Any]] = row,
    budget: int | None = None,
) -> Page:
    """Up to ``limit`` rows that ``keep`` accepts, read from ``snapshots`` (lazily: reading stops
    at the first document past the page), and the token of the page after them.

    The token names the last document read, kept or not, so a filter applied while reading
    never makes the next page repeat or skip a document. With ``budget``, at most that many
    documents are read for one page; a page cut short by it still has a next page.
    """
    rows: list[dict[str, Any]] = []
    last: str | None = None
    for read, snap in enumerate(snapshots):
        if last is not None and (len(rows) == limit or read == budget):
            return Page(rows, token(last))
        last = snap.reference.path
        shaped = shape(snap)
        if keep is None or keep(shaped):
            rows.append(shaped)
    return Page(rows)


def in_collection(name: str) -> Callable[[str], bool]:
    """Accepts the path of a document directly in collection ``name``."""

    def check(path: str) -> bool:
        parts = path.split("/")
        return len(parts) == 2 and parts[0] == name and bool(parts[1])

    return check


def merge(sources: list[Source], limit: int, cursor: str | None) -> Page:
    """A page of several queries merged newest first (the activity log: reviews and messages).

    The token holds each query's own position: the last of its documents shown, or ``None``
    once it has nothing more; each page reads at most ``limit`` + 1 documents of each query.
    """
    positions: dict[str, str | None] = {}
    if cursor:
        try:
            positions = json.loads(_decode(cursor))
        except ValueError:
            raise Invalid(_BROKEN) from None
        if not isinstance(positions, dict) or not all(v is None or isinstance(v, str) for v in positions.values()):
            raise Invalid(_BROKEN)
    candidates: list[tuple[Source, firestore.DocumentSnapshot, dict[str, Any]]] = []
    more: dict[str, bool] = {}
    for source in sources:
        if source.name in positions and positions[source.name] is None:
            more[source.name] = False  # shown to its end on an earlier page
            continue
        query = source.query()
        path = positions.get(source.name)
        if path:
            query = query.start_after(_snapshot(path, source.within))
        snaps = list(query.limit(limit + 1).stream())
        more[source.name] = len(snaps) > limit
        candidates += [(source, snap, source.shape(snap)) for snap in snaps[:limit]]
    candidates.sort(key=lambda c: c[0].at(c[2]) or _LONG_AGO, reverse=True)
    shown = candidates[:limit]
    following: dict[str, str | None] = {}
    for source in sources:
        mine = [snap for s, snap, _ in shown if s is source]
        unshown = any(s is source for s, _, _ in candidates[limit:])
        if mine:
            following[source.name] = mine[-1].reference.path if unshown or more[source.name] else None
        else:
            # Nothing of it on this page: it resumes where it was ("" is its start).
            following[source.name] = positions.get(source.name, "") if (unshown or more[source.name]) else None
    done = all(v is None for v in following.values())
    return Page([row for _, _, row in shown], None if done else token(json.dumps(following)))
