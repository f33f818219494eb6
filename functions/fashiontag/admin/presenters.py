"""What the pages and the JSON show of stored documents: formatting and the views of a product.

Routes fetch and authorise; these functions only shape what was fetched, so a change to what a
role sees is made here, once for its page and its JSON alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import flask

from fashiontag import taxonomy
from fashiontag.admin import listings, messaging, specs
from fashiontag.admin.identity import Principal


def when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return ""


def percent(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, int | float) else "-"


def page_href(param: str, token: str | None, base: str | None = None) -> str:
    """The hash route of this view (or of ``base``) with one page token changed (None: back to
    the first page), the other parameters kept."""
    args = [(k, v) for k, v in flask.request.args.items(multi=True) if k != param]
    if token:
        args.append((param, token))
    path = base or flask.request.path.removeprefix("/views")
    return f"#{path}" + (f"?{urlencode(args)}" if args else "")


def public_product(product: dict[str, Any]) -> dict[str, Any]:
    """What a buyer sees of a published product: its specification, nothing about the seller."""
    tax = taxonomy.load()
    spec = product.get("spec") or {}
    label = spec.get("category", "")
    category = tax.category(label) if label in tax.labels else None
    families = {f.id: f.name for f in category.families} if category else {}
    return {
        "id": product["id"],
        "category": label,
        "category_name": category.name if category else label,
        "attributes": {families.get(k, k): v.replace("_", " ") for k, v in (spec.get("attributes") or {}).items()},
        "colours": specs.colour_names(spec),
        "published_at": product.get("published_at"),
    }


def seller_row(doc: dict[str, Any]) -> dict[str, Any]:
    category = doc.get("prediction", {}).get("category", {})
    label = (doc.get("spec") or {}).get("category") or category.get("label")
    names = {c.id: c.name for c in taxonomy.load().categories}
    return {
        "id": doc["id"],
        "file": str(doc.get("image", {}).get("name", "")).split("/", 2)[-1],
        "status": doc.get("status"),
        "category": label,
        "category_name": names.get(label, label),
        "confidence": category.get("confidence"),
        "rejection": (doc.get("rejection") or {}).get("message"),
        "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"),
    }


def seller_products(
    principal: Principal, after: str = "", limit: int = listings.PAGE_SIZE
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the seller's own products, newest first, and the token of the next page."""
    flt = listings.QueueFilter(status="all", seller=principal.uid, sort="newest", limit=limit, after=after)
    page = listings.queue(flt)
    return [seller_row(doc) for doc in page.rows], page.next


def seller_product(product: dict[str, Any], history: list[dict[str, Any]], seller: str) -> dict[str, Any]:
    """A product as its seller sees it: who reviewed it is "a manager", never their uid or email."""
    body = {k: v for k, v in product.items() if k not in ("lease", "review")}
    body["history"] = [
        {
            **{k: v for k, v in entry.items() if k not in ("by", "by_email")},
            "by": "you" if entry.get("by") == seller else "a manager",
        }
        for entry in history
    ]
    return body


def notifications(principal: Principal) -> dict[str, Any]:
    """What notifications_list.html shows: a page of the caller's notifications (the page's
    ``notifications_after``), the next page's token and the unread count."""
    page = messaging.notifications_for(principal, after=flask.request.args.get("notifications_after", ""))
    return {"notifications": page.rows, "notifications_next": page.next, "unread": messaging.unread_count(principal)}
