"""Sellers: upload sessions straight to the bucket, and their own products."""

from __future__ import annotations

from typing import Any

import flask

from fashiontag import config
from fashiontag.admin import listings, messaging, pages, presenters, upload_sessions
from fashiontag.admin.access import guarded
from fashiontag.admin.identity import Principal
from fashiontag.admin.transport import json_body
from fashiontag.contract import SELLER

bp = flask.Blueprint("sellers", __name__)


@guarded(bp, "/api/uploads", (SELLER,), ("POST",))
def uploads(p: Principal) -> Any:
    body = json_body()
    origin = flask.request.headers.get("Origin")
    own_origin = flask.request.host_url.rstrip("/")
    sessions = upload_sessions.create_sessions(
        p, body.get("files"), origin if origin == own_origin else None, body.get("batch")
    )
    return {"sessions": sessions}, 201


@guarded(bp, "/api/seller/products", (SELLER,))
def seller_products_json(p: Principal) -> Any:
    args = flask.request.args
    rows, following = presenters.seller_products(
        p, args.get("after", ""), pages.size(args.get("limit"), listings.PAGE_SIZE)
    )
    return {"products": rows, "next": following}


@guarded(bp, "/views/seller", (SELLER,))
def seller_view(p: Principal) -> Any:
    args = flask.request.args
    products, following = presenters.seller_products(p, args.get("after", ""))
    messages = messaging.messages_for(p, after=args.get("messages_after", ""))
    return flask.render_template(
        "seller.html",
        me=p,
        products=products,
        next_page=following,
        messages=messages.rows,
        messages_next=messages.next,
        **presenters.notifications(p),
        max_mb=config.limits().max_bytes / 1e6,
        max_files=upload_sessions.MAX_FILES,
        content_types=", ".join(upload_sessions.CONTENT_TYPES),
    )


@guarded(bp, "/views/seller/products", (SELLER,))
def seller_products_view(p: Principal) -> Any:
    products, following = presenters.seller_products(p, flask.request.args.get("after", ""))
    return flask.render_template("seller_products.html", me=p, products=products, next_page=following)
