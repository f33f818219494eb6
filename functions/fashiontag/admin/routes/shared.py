"""The page shell, and the routes every signed-in role may use (each sees only its own share)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask

from fashiontag import config, taxonomy
from fashiontag.admin import identity, listings, live, messaging, pages, params, presenters, specs, upload_sessions
from fashiontag.admin.access import guarded, visible_product
from fashiontag.admin.errors import NotFound
from fashiontag.admin.identity import Principal
from fashiontag.admin.transport import IMAGE_TYPES, json_body, origins, stream_object
from fashiontag.contract import BUYER, MANAGER, ROLES, SELLER

bp = flask.Blueprint("shared", __name__)


@bp.get("/")
def shell() -> Any:
    where = origins()
    return flask.render_template(
        "index.html",
        auth_url=where["auth"],
        token_url=where["token"],
        api_key=config.firebase_web_api_key(),
        max_bytes=config.limits().max_bytes,
        max_files=upload_sessions.MAX_FILES,
        emulated=bool(config.auth_emulator_host()),
    )


@guarded(bp, "/api/me", ROLES)
def me(p: Principal) -> Any:
    return {"uid": p.uid, "email": p.email, "role": p.role}


@guarded(bp, "/api/taxonomy", ROLES)
def taxonomy_json(p: Principal) -> Any:
    tax = taxonomy.load()
    return {
        "categories": [
            {
                "id": c.id,
                "name": c.name,
                "families": [{"id": f.id, "name": f.name, "values": list(f.values)} for f in c.families],
            }
            for c in tax.categories
        ]
    }


@guarded(bp, "/api/products/<product_id>", ROLES)
def product_json(p: Principal, product_id: str) -> Any:
    product = visible_product(p, product_id)
    if p.role == BUYER:
        return presenters.public_product(product)
    if p.role == SELLER:
        return presenters.seller_product(product, listings.history(product_id), p.uid)
    body = {k: v for k, v in product.items() if k not in ("lease",)}
    body["history"] = listings.history(product_id)
    return body


@guarded(bp, "/api/products/<product_id>/image", ROLES)
def product_image(p: Principal, product_id: str) -> Any:
    product = visible_product(p, product_id)
    kind = flask.request.args.get("kind", "thumbnail")
    if kind == "thumbnail":
        name = (product.get("derived") or {}).get("thumbnail")
        if not name:
            raise NotFound("This product has no thumbnail.")
        return stream_object(name, None, "image/jpeg")
    if kind == "photo" and p.role in (MANAGER, SELLER):
        image = product.get("image") or {}
        content_type = IMAGE_TYPES.get(str(image.get("format", "")))
        generation = int(image.get("generation") or 0) or None
        return stream_object(image["name"], generation, content_type or "application/octet-stream", not content_type)
    raise NotFound("No such picture.")


@guarded(bp, "/api/notifications", ROLES)
def notifications_json(p: Principal) -> Any:
    args = flask.request.args
    page = messaging.notifications_for(p, pages.size(args.get("limit"), messaging.PAGE_SIZE), args.get("after", ""))
    return {"notifications": page.rows, "next": page.next, "unread": messaging.unread_count(p)}


@guarded(bp, "/api/live", ROLES)
def live_updates(p: Principal) -> Any:
    """Server-sent events: the caller's notifications and products as they change (admin.live)."""
    since = params.number(flask.request.args.get("since"), "since")  # the last event id the page saw
    start = dt.datetime.fromtimestamp(since / 1000, dt.UTC) if since is not None and 0 < since < 1e14 else None
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    events = live.stream(p, start)
    return flask.Response(flask.stream_with_context(events), mimetype="text/event-stream", headers=headers)


@guarded(bp, "/api/notifications/read-all", ROLES, ("POST",))
def notifications_read_all(p: Principal) -> Any:
    return {"marked": messaging.mark_all_read(p)}


@guarded(bp, "/api/notifications/<notification_id>/read", ROLES, ("POST",))
def notification_read(p: Principal, notification_id: str) -> Any:
    messaging.mark_read(p, notification_id)
    return {"read": notification_id}


@guarded(bp, "/api/messages", ROLES)
def messages_json(p: Principal) -> Any:
    args = flask.request.args
    limit = pages.size(args.get("limit"), messaging.PAGE_SIZE)
    page = messaging.messages_for(p, args.get("from_role", ""), limit, args.get("after", ""))
    return {"messages": page.rows, "next": page.next}


@guarded(bp, "/api/messages", ROLES, ("POST",))
def message_send(p: Principal) -> Any:
    body = json_body()
    sent = messaging.send_message(p, body.get("to"), body.get("text"), body.get("product_id"), body.get("request_id"))
    return sent, 201


@guarded(bp, "/views/notifications", ROLES)
def notifications_view(p: Principal) -> Any:
    return flask.render_template("notifications.html", me=p, **presenters.notifications(p))


@guarded(bp, "/views/notifications/list", ROLES)
def notifications_fragment(p: Principal) -> Any:
    """The notifications list alone: what the page renews when the unread count changes."""
    return flask.render_template("notifications_list.html", me=p, **presenters.notifications(p))


@guarded(bp, "/views/products/<product_id>", ROLES)
def product_view(p: Principal, product_id: str) -> Any:
    product = visible_product(p, product_id)
    if p.role == BUYER:
        return flask.render_template("product_public.html", me=p, product=presenters.public_product(product))
    tax = taxonomy.load()
    context = {
        "me": p,
        "product": product,
        "history": listings.history(product_id),
        "taxonomy": tax,
        "category_names": {c.id: c.name for c in tax.categories},
        "family_names": {f.id: f.name for c in tax.categories for f in c.families},
        "threshold": config.auto_accept_threshold(),
    }
    if p.role == SELLER:
        return flask.render_template("seller_product.html", **context)
    seller = identity.get_user(str(product.get("seller_id", ""))) or {}
    palette = specs.colour_swatches()
    return flask.render_template("review.html", seller=seller, palette=palette, **context)
