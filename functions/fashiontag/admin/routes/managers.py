"""Managers: the review queue, corrections, verification, publication, users, activity (models: ``models``)."""

from __future__ import annotations

from typing import Any

import flask

from fashiontag import config, dead_letters, taxonomy
from fashiontag.admin import identity, listings, messaging, pages, presenters, review
from fashiontag.admin.access import guarded
from fashiontag.admin.errors import Invalid
from fashiontag.admin.identity import Principal
from fashiontag.admin.transport import json_body
from fashiontag.contract import MANAGER, ROLES

bp = flask.Blueprint("managers", __name__)


@guarded(bp, "/api/products", (MANAGER,))
def queue_json(p: Principal) -> Any:
    page = listings.queue(listings.QueueFilter.from_args(flask.request.args))
    return {
        "products": [presenters.seller_row(d) | {"seller_id": d.get("seller_id")} for d in page.rows],
        "next": page.next,
    }


@guarded(bp, "/views/queue", (MANAGER,))
def queue_view(p: Principal) -> Any:
    flt = listings.QueueFilter.from_args(flask.request.args)
    page = listings.queue(flt)
    tax = taxonomy.load()
    return flask.render_template(
        "queue.html",
        me=p,
        flt=flt,
        products=page.rows,
        next_page=page.next,
        taxonomy=tax,
        category_names={c.id: c.name for c in tax.categories},
        statuses=listings.STATUS_CHOICES,
        threshold=config.auto_accept_threshold(),
        dead_letters=dead_letters.waiting_count(),
    )


@guarded(bp, "/api/dead-letters", (MANAGER,))
def dead_letters_json(p: Principal) -> Any:
    """How many messages wait in the dead letters (``fashiontag dead-letters list|replay``)."""
    return {"waiting": dead_letters.waiting_count()}


@guarded(bp, "/api/products/<product_id>/spec", (MANAGER,), ("POST",))
def product_edit(p: Principal, product_id: str) -> Any:
    body = json_body()
    return review.edit(product_id, p, body.get("category"), body.get("attributes"), body.get("colours")).as_dict()


@guarded(bp, "/api/products/<product_id>/verify", (MANAGER,), ("POST",))
def product_verify(p: Principal, product_id: str) -> Any:
    return review.verify(product_id, p).as_dict()


@guarded(bp, "/api/products/<product_id>/publish", (MANAGER,), ("POST",))
def product_publish(p: Principal, product_id: str) -> Any:
    return review.publish(product_id, p).as_dict()


@guarded(bp, "/api/verify-many", (MANAGER,), ("POST",))
def verify_many(p: Principal) -> Any:
    body = json_body()
    return review.verify_many(body.get("ids"), body.get("threshold"), p)


@guarded(bp, "/api/notifications", (MANAGER,), ("POST",))
def notice_send(p: Principal) -> Any:
    body = json_body()
    sent = messaging.send_notice(
        p, body.get("to"), body.get("title"), body.get("body"), body.get("product_id"), body.get("request_id")
    )
    return sent, 201


@guarded(bp, "/api/users", (MANAGER,))
def users_json(p: Principal) -> Any:
    role = flask.request.args.get("role") or None
    if role and role not in ROLES:
        raise Invalid(f"'{role}' is not a role")
    users = identity.list_users(role)
    return {"users": [{k: u.get(k) for k in ("uid", "email", "role", "display_name")} for u in users]}


@guarded(bp, "/views/messages", (MANAGER,))
def messages_view(p: Principal) -> Any:
    args = flask.request.args
    from_role = args.get("from_role", "")
    messages = messaging.messages_for(p, from_role, after=args.get("after", ""))
    return flask.render_template(
        "messages.html",
        me=p,
        from_role=from_role,
        messages=messages.rows,
        messages_next=messages.next,
        **presenters.notifications(p),
        users=identity.list_users(),
    )


@guarded(bp, "/api/activity", (MANAGER,))
def activity_json(p: Principal) -> Any:
    """Reviews and messages, newest first, a page at a time (``after``: the previous ``next``)."""
    args = flask.request.args
    page = listings.activity(pages.size(args.get("limit"), listings.PAGE_SIZE), args.get("after", ""))
    return {"entries": page.rows, "next": page.next}


@guarded(bp, "/views/activity", (MANAGER,))
def activity_view(p: Principal) -> Any:
    page = listings.activity(after=flask.request.args.get("after", ""))
    return flask.render_template("activity.html", me=p, entries=page.rows, next_page=page.next)
