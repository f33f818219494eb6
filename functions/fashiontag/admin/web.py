"""The admin function's Flask app: three views (manager, seller, buyer) and their JSON API.

- ``/`` is the page shell: the sign-in form and a little JavaScript, no data. The browser signs
  in with Firebase Auth's REST API and keeps the ID token in session storage; every other
  request carries it as ``Authorization: Bearer <ID token>`` (never a cookie, so no request
  forgery can ride on it).
- ``/views/...`` are server-rendered HTML fragments (Jinja, autoescaped) that the shell
  fetches with the token and places in the page.
- ``/api/...`` is JSON.

Every ``/views`` and ``/api`` route verifies the token and the role before it reads anything
(``ROUTE_ROLES`` lists them; the security tests walk it). A Content-Security-Policy without
``unsafe-inline`` keeps any script that slipped into data inert twice over.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask
import jinja2
from flask.json.provider import DefaultJSONProvider
from google.api_core import exceptions as gexc

from fashiontag import clients, config, contract, retraining, taxonomy
from fashiontag.admin import identity, messaging, models_view, review, upload_sessions
from fashiontag.admin.errors import ApiError, Invalid, NotFound
from fashiontag.admin.identity import Principal
from fashiontag.contract import BUYER, MANAGER, ROLES, SELLER

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve()
# In the repository the templates live beside the function's main.py; main.py passes its own.
DEFAULT_FUNCTION_DIR = HERE.parents[2] / "admin"
IMAGE_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
_CHUNK = 64 * 1024

# (method, rule) -> roles allowed; filled by @guarded. Every /views and /api route is here.
ROUTE_ROLES: dict[tuple[str, str], tuple[str, ...]] = {}


class _JSON(DefaultJSONProvider):
    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return ""


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, int | float) else "-"


def _body() -> dict[str, Any]:
    data = flask.request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object.")
    return data


def _origins() -> dict[str, str]:
    """Where the browser signs in and uploads: the emulators locally, Google's APIs otherwise."""
    emulator = config.auth_emulator_host()
    if emulator:
        base = f"http://{emulator}"
        auth_url, token_url = f"{base}/identitytoolkit.googleapis.com", f"{base}/securetoken.googleapis.com"
    else:
        auth_url, token_url = "https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com"
    storage = os.environ.get("STORAGE_EMULATOR_HOST", "").strip().rstrip("/") or "https://storage.googleapis.com"
    return {"auth": auth_url, "token": token_url, "storage": storage}


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_app(test_config: dict[str, Any] | None = None, function_dir: Path | None = None) -> flask.Flask:
    folder = function_dir or DEFAULT_FUNCTION_DIR
    app = flask.Flask(
        "fashiontag_admin",
        template_folder=str(folder / "templates"),
        static_folder=str(folder / "static"),
        # not /static: functions-framework's own Flask app keeps that path for itself
        static_url_path="/assets",
    )
    app.json = _JSON(app)
    app.config.update(MAX_CONTENT_LENGTH=256 * 1024, SEND_FILE_MAX_AGE_DEFAULT=300)
    if test_config:
        app.config.update(test_config)
    app.jinja_env.undefined = jinja2.ChainableUndefined
    app.jinja_env.filters["when"] = _when
    app.jinja_env.filters["percent"] = _percent
    app.jinja_env.globals["colour_names"] = review.colour_names
    app.jinja_env.globals["confidence"] = review.confidence

    @app.errorhandler(ApiError)
    def refused(error: ApiError) -> Any:
        if flask.request.path.startswith("/views/"):
            html = flask.render_template("error.html", error=error)
            return html, error.status, {"Content-Type": "text/html; charset=utf-8"}
        return flask.jsonify(error.as_dict()), error.status

    @app.errorhandler(gexc.GoogleAPICallError)
    def unavailable(error: gexc.GoogleAPICallError) -> Any:
        log.warning("backend error: %s", error)
        return flask.jsonify({"error": "A backend service did not answer; try again."}), 503

    @app.errorhandler(404)
    def missing(_: Any) -> Any:
        return refused(NotFound("No such page."))

    @app.errorhandler(405)
    def wrong_method(_: Any) -> Any:
        return flask.jsonify({"error": "Method not allowed."}), 405

    @app.errorhandler(413)
    def too_large(_: Any) -> Any:
        return flask.jsonify({"error": "The request is too large."}), 413

    @app.after_request
    def headers(response: flask.Response) -> flask.Response:
        origins = _origins()
        connect = " ".join(
            sorted({"'self'", *(_origin_of(u) for u in origins.values())}),
        )
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            f"connect-src {connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if flask.request.path.startswith(("/api/", "/views/")) and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    _routes(app)
    return app


def guarded(app: flask.Flask, rule: str, roles: tuple[str, ...], methods: tuple[str, ...] = ("GET",)) -> Callable:
    """Register a route that only runs for a verified caller holding one of ``roles``."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(**kwargs: Any) -> Any:
            principal = identity.verify(flask.request.headers.get("Authorization"))
            identity.require(principal, *roles)
            return fn(principal, **kwargs)

        for method in methods:
            ROUTE_ROLES[(method, rule)] = roles
        app.add_url_rule(rule, endpoint=fn.__name__, view_func=inner, methods=list(methods))
        return inner

    return wrap


def _visible_product(principal: Principal, product_id: str) -> dict[str, Any]:
    """The product if the caller may see it: managers any, sellers their own, buyers published."""
    product = review.get_product(product_id)
    if principal.role == SELLER and product.get("seller_id") != principal.uid:
        raise NotFound("No such product.")
    if principal.role == BUYER and product.get("status") != contract.PUBLISHED:
        raise NotFound("No such product.")
    return product


def _public(product: dict[str, Any]) -> dict[str, Any]:
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
        "colours": review.colour_names(spec),
        "published_at": product.get("published_at"),
    }


def _seller_row(doc: dict[str, Any]) -> dict[str, Any]:
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


def _seller_products(principal: Principal) -> list[dict[str, Any]]:
    rows = review.queue(review.QueueFilter(status="all", seller=principal.uid, sort="newest", limit=500))
    return [_seller_row(doc) for doc in rows]


def _stream(name: str, generation: int | None, content_type: str, download: bool = False) -> flask.Response:
    bucket = clients.storage_client().bucket(config.upload_bucket())
    blob = bucket.blob(name, generation=generation)
    try:
        reader = blob.open("rb", chunk_size=256 * 1024)
        first = reader.read(_CHUNK)
    except gexc.NotFound:
        raise NotFound("The picture is no longer there.") from None

    def chunks() -> Iterator[bytes]:
        try:
            chunk = first
            while chunk:
                yield chunk
                chunk = reader.read(_CHUNK)
        finally:
            reader.close()

    headers = {"Cache-Control": "private, max-age=300"}
    if download:
        headers["Content-Disposition"] = "attachment"
    return flask.Response(chunks(), content_type=content_type, headers=headers)


def _routes(app: flask.Flask) -> None:
    everyone = ROLES

    # --- the shell ------------------------------------------------------------------------

    @app.get("/")
    def shell() -> Any:
        origins = _origins()
        return flask.render_template(
            "index.html",
            auth_url=origins["auth"],
            token_url=origins["token"],
            api_key=config.firebase_web_api_key(),
            max_bytes=config.limits().max_bytes,
            emulated=bool(config.auth_emulator_host()),
        )

    # --- anyone signed in -----------------------------------------------------------------

    @guarded(app, "/api/me", everyone)
    def me(p: Principal) -> Any:
        return {"uid": p.uid, "email": p.email, "role": p.role}

    @guarded(app, "/api/taxonomy", everyone)
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

    @guarded(app, "/api/products/<product_id>", everyone)
    def product_json(p: Principal, product_id: str) -> Any:
        product = _visible_product(p, product_id)
        if p.role == BUYER:
            return _public(product)
        body = {k: v for k, v in product.items() if k not in ("lease",)}
        body["history"] = review.history(product_id)
        return body

    @guarded(app, "/api/products/<product_id>/image", everyone)
    def product_image(p: Principal, product_id: str) -> Any:
        product = _visible_product(p, product_id)
        kind = flask.request.args.get("kind", "thumbnail")
        if kind == "thumbnail":
            name = (product.get("derived") or {}).get("thumbnail")
            if not name:
                raise NotFound("This product has no thumbnail.")
            return _stream(name, None, "image/jpeg")
        if kind == "photo" and p.role in (MANAGER, SELLER):
            image = product.get("image") or {}
            content_type = IMAGE_TYPES.get(str(image.get("format", "")))
            generation = int(image.get("generation") or 0) or None
            return _stream(image["name"], generation, content_type or "application/octet-stream", not content_type)
        raise NotFound("No such picture.")

    @guarded(app, "/api/notifications", everyone)
    def notifications_json(p: Principal) -> Any:
        return {"notifications": messaging.notifications_for(p)}

    @guarded(app, "/api/notifications/<notification_id>/read", everyone, ("POST",))
    def notification_read(p: Principal, notification_id: str) -> Any:
        messaging.mark_read(p, notification_id)
        return {"read": notification_id}

    @guarded(app, "/api/messages", everyone)
    def messages_json(p: Principal) -> Any:
        return {"messages": messaging.messages_for(p, flask.request.args.get("from_role", ""))}

    @guarded(app, "/api/messages", everyone, ("POST",))
    def message_send(p: Principal) -> Any:
        body = _body()
        sent = messaging.send_message(
            p, body.get("to"), body.get("text"), body.get("product_id"), body.get("request_id")
        )
        return sent, 201

    @guarded(app, "/views/notifications", everyone)
    def notifications_view(p: Principal) -> Any:
        return flask.render_template("notifications.html", me=p, notifications=messaging.notifications_for(p))

    @guarded(app, "/views/products/<product_id>", everyone)
    def product_view(p: Principal, product_id: str) -> Any:
        product = _visible_product(p, product_id)
        if p.role == BUYER:
            return flask.render_template("product_public.html", me=p, product=_public(product))
        tax = taxonomy.load()
        context = {
            "me": p,
            "product": product,
            "history": review.history(product_id),
            "taxonomy": tax,
            "category_names": {c.id: c.name for c in tax.categories},
            "family_names": {f.id: f.name for c in tax.categories for f in c.families},
            "threshold": config.auto_accept_threshold(),
        }
        if p.role == SELLER:
            return flask.render_template("seller_product.html", **context)
        seller = identity.get_user(str(product.get("seller_id", ""))) or {}
        palette = review.colour_swatches()
        return flask.render_template("review.html", seller=seller, palette=palette, **context)

    # --- managers -------------------------------------------------------------------------

    @guarded(app, "/api/products", (MANAGER,))
    def queue_json(p: Principal) -> Any:
        flt = review.QueueFilter.from_args(flask.request.args)
        return {"products": [_seller_row(d) | {"seller_id": d.get("seller_id")} for d in review.queue(flt)]}

    @guarded(app, "/views/queue", (MANAGER,))
    def queue_view(p: Principal) -> Any:
        flt = review.QueueFilter.from_args(flask.request.args)
        tax = taxonomy.load()
        return flask.render_template(
            "queue.html",
            me=p,
            flt=flt,
            products=review.queue(flt),
            taxonomy=tax,
            category_names={c.id: c.name for c in tax.categories},
            statuses=review.STATUS_CHOICES,
            threshold=config.auto_accept_threshold(),
        )

    @guarded(app, "/api/products/<product_id>/spec", (MANAGER,), ("POST",))
    def product_edit(p: Principal, product_id: str) -> Any:
        body = _body()
        return review.edit(product_id, p, body.get("category"), body.get("attributes"), body.get("colours")).as_dict()

    @guarded(app, "/api/products/<product_id>/verify", (MANAGER,), ("POST",))
    def product_verify(p: Principal, product_id: str) -> Any:
        return review.verify(product_id, p).as_dict()

    @guarded(app, "/api/products/<product_id>/publish", (MANAGER,), ("POST",))
    def product_publish(p: Principal, product_id: str) -> Any:
        return review.publish(product_id, p).as_dict()

    @guarded(app, "/api/verify-many", (MANAGER,), ("POST",))
    def verify_many(p: Principal) -> Any:
        body = _body()
        return review.verify_many(body.get("ids"), body.get("threshold"), p)

    @guarded(app, "/api/notifications", (MANAGER,), ("POST",))
    def notice_send(p: Principal) -> Any:
        body = _body()
        sent = messaging.send_notice(
            p, body.get("to"), body.get("title"), body.get("body"), body.get("product_id"), body.get("request_id")
        )
        return sent, 201

    @guarded(app, "/api/users", (MANAGER,))
    def users_json(p: Principal) -> Any:
        role = flask.request.args.get("role") or None
        if role and role not in ROLES:
            raise Invalid(f"'{role}' is not a role")
        users = identity.list_users(role)
        return {"users": [{k: u.get(k) for k in ("uid", "email", "role", "display_name")} for u in users]}

    @guarded(app, "/views/messages", (MANAGER,))
    def messages_view(p: Principal) -> Any:
        from_role = flask.request.args.get("from_role", "")
        return flask.render_template(
            "messages.html",
            me=p,
            from_role=from_role,
            messages=messaging.messages_for(p, from_role),
            notifications=messaging.notifications_for(p),
            users=identity.list_users(),
        )

    @guarded(app, "/api/activity", (MANAGER,))
    def activity_json(p: Principal) -> Any:
        return {"history": review.activity(), "messages": messaging.recent_messages()}

    @guarded(app, "/views/activity", (MANAGER,))
    def activity_view(p: Principal) -> Any:
        entries = [{"kind": "history", **e} for e in review.activity()]
        entries += [{"kind": "message", "at": m.get("created_at"), **m} for m in messaging.recent_messages()]
        entries.sort(key=lambda e: str(e.get("at") or ""), reverse=True)
        return flask.render_template("activity.html", me=p, entries=entries[:150])

    @guarded(app, "/api/models", (MANAGER,))
    def models_json(p: Principal) -> Any:
        return {"models": models_view.models(), "runs": models_view.runs()}

    @guarded(app, "/views/models", (MANAGER,))
    def models_page(p: Principal) -> Any:
        return flask.render_template(
            "models.html",
            me=p,
            models=models_view.models(),
            runs=models_view.runs(),
            trainable=retraining.TRAINABLE_MODELS,
        )

    @guarded(app, "/api/models/<name>/versions/<version>/files/<file_name>", (MANAGER,))
    def model_file(p: Principal, name: str, version: str, file_name: str) -> Any:
        data, content_type = models_view.report_file(name, version, file_name)
        return flask.Response(data, content_type=content_type)

    @guarded(app, "/api/retrain", (MANAGER,), ("POST",))
    def retrain(p: Principal) -> Any:
        body = _body()
        request_id = models_view.request_retraining(
            p, body.get("model"), body.get("epochs"), body.get("min_new_labels")
        )
        return {"request_id": request_id}, 202

    # --- sellers --------------------------------------------------------------------------

    @guarded(app, "/api/uploads", (SELLER,), ("POST",))
    def uploads(p: Principal) -> Any:
        body = _body()
        origin = flask.request.headers.get("Origin")
        own_origin = flask.request.host_url.rstrip("/")
        sessions = upload_sessions.create_sessions(p, body.get("files"), origin if origin == own_origin else None)
        return {"sessions": sessions}, 201

    @guarded(app, "/api/seller/products", (SELLER,))
    def seller_products_json(p: Principal) -> Any:
        return {"products": _seller_products(p)}

    @guarded(app, "/views/seller", (SELLER,))
    def seller_view(p: Principal) -> Any:
        return flask.render_template(
            "seller.html",
            me=p,
            products=_seller_products(p),
            notifications=messaging.notifications_for(p),
            messages=messaging.messages_for(p),
            max_mb=config.limits().max_bytes / 1e6,
            content_types=", ".join(upload_sessions.CONTENT_TYPES),
        )

    @guarded(app, "/views/seller/products", (SELLER,))
    def seller_products_view(p: Principal) -> Any:
        return flask.render_template("seller_products.html", me=p, products=_seller_products(p))

    # --- buyers (managers may look too) ---------------------------------------------------

    @guarded(app, "/api/catalogue", (BUYER, MANAGER))
    def catalogue_json(p: Principal) -> Any:
        args = flask.request.args
        rows = review.catalogue(args.get("category", ""), args.get("attribute", ""), args.get("colour", ""))
        return {"products": [_public(d) for d in rows]}

    @guarded(app, "/views/catalogue", (BUYER, MANAGER))
    def catalogue_view(p: Principal) -> Any:
        args = flask.request.args
        chosen = {k: args.get(k, "") for k in ("category", "attribute", "colour")}
        rows = review.catalogue(chosen["category"], chosen["attribute"], chosen["colour"])
        every = review.catalogue()
        colours = sorted({c for d in every for c in review.colour_names(d.get("spec") or {})})
        tax = taxonomy.load()
        return flask.render_template(
            "catalogue.html",
            me=p,
            chosen=chosen,
            products=[_public(d) for d in rows],
            taxonomy=tax,
            families=list({f.id: f for c in tax.categories for f in c.families}.values()),
            colours=colours,
        )
