"""The buyers' view of published products: ``catalogue/{product_id}``.

A product document holds what buyers must not see (the seller's uid, the upload path that
carries it, the prediction, the lease). Firestore rules grant or refuse whole documents, so
buyers read this separate view, which holds only the specification as published: written in
the same transaction as the review change that publishes a product or corrects a published
one (``review``), never by clients. The buyers' catalogue and their direct reads both use it.
"""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from fashiontag import clients, contract, taxonomy
from fashiontag.admin import pages
from fashiontag.admin.errors import Invalid
from fashiontag.admin.specs import colour_names

PAGE_SIZE = 48
# Documents read at most for one page when an attribute or colour filter applies while reading.
SCAN_LIMIT = 2000


def ref(product_id: str) -> firestore.DocumentReference:
    return clients.firestore_client().collection(contract.CATALOGUE).document(product_id)


def entry(product: dict[str, Any]) -> dict[str, Any]:
    """The catalogue document of a published product (``published_at`` as stored or a sentinel)."""
    spec = product.get("spec") or {}
    return {
        "spec": {
            "category": spec.get("category"),
            "attributes": dict(spec.get("attributes") or {}),
            "colours": colour_names(spec),
        },
        "published_at": product.get("published_at"),
        "updated_at": firestore.SERVER_TIMESTAMP,
    }


def _query(category: str) -> Any:
    query: Any = clients.firestore_client().collection(contract.CATALOGUE)
    if category:
        query = query.where(filter=firestore.FieldFilter("spec.category", "==", category))
    return query.order_by("updated_at", direction=firestore.Query.DESCENDING)


def page(
    category: str = "", attribute: str = "", colour: str = "", limit: int = PAGE_SIZE, after: str = ""
) -> pages.Page:
    """Published products, newest first, of a category, with one ``family=value``, of a colour."""
    if category and category not in taxonomy.load().labels:
        raise Invalid(f"'{category}' is not a category")
    family, _, value = attribute.partition("=")

    def keep(doc: dict[str, Any]) -> bool:
        spec = doc.get("spec") or {}
        if attribute and (spec.get("attributes") or {}).get(family) != value:
            return False
        return not colour or colour in (spec.get("colours") or [])

    query = _query(category)
    start = pages.after(after, pages.in_collection(contract.CATALOGUE))
    if start is not None:
        query = query.start_after(start)
    cap = SCAN_LIMIT if attribute or colour else limit + 1
    return pages.collect(query.limit(cap).stream(), limit, keep=keep, budget=SCAN_LIMIT)


def rebuild() -> dict[str, int]:
    """Make ``catalogue/`` hold exactly the published products (for a project whose products were
    published before the view existed, or after a repair by hand): writes each published
    product's entry, deletes entries whose product is not published. Safe to run again."""
    db = clients.firestore_client()
    published = db.collection(contract.PRODUCTS).where(filter=firestore.FieldFilter("status", "==", contract.PUBLISHED))
    wanted: set[str] = set()
    batch, written, removed = db.batch(), 0, 0
    for snap in published.stream():
        wanted.add(snap.id)
        batch.set(ref(snap.id), entry(snap.to_dict() or {}))
        written += 1
        if written % 400 == 0:  # a batch holds up to 500 writes
            batch.commit()
            batch = db.batch()
    for snap in db.collection(contract.CATALOGUE).select([]).stream():
        if snap.id not in wanted:
            batch.delete(snap.reference)
            removed += 1
    batch.commit()
    return {"written": written, "removed": removed}
