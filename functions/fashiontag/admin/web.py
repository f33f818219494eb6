"""The admin function's Flask app: three views (manager, seller, buyer) and their JSON API.

- ``/`` is the page shell: the sign-in form and a little JavaScript, no data. The browser signs
  in with Firebase Auth's REST API and keeps the ID token in session storage; every other
  request carries it as ``Authorization: Bearer <ID token>`` (never a cookie, so no request
  forgery can ride on it).
- ``/views/...`` are server-rendered HTML fragments (Jinja, autoescaped) that the shell
  fetches with the token and places in the page.
- ``/api/...`` is JSON.

Every ``/views`` and ``/api`` route verifies the token and the role before it reads anything
(``access.ROUTE_ROLES`` lists them; the security tests walk it). A Content-Security-Policy
without ``unsafe-inline`` keeps any script that slipped into data inert twice over.

This module makes the app: error pages, security headers, template helpers. The routes are
blueprints per audience in ``admin.routes``; what they show of a document is in ``presenters``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import flask
import jinja2
from flask.json.provider import DefaultJSONProvider
from google.api_core import exceptions as gexc

from fashiontag.admin import listings, model_uploads, presenters, specs
from fashiontag.admin.errors import ApiError, NotFound
from fashiontag.admin.routes import BLUEPRINTS
from fashiontag.admin.transport import origin_of, origins

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve()
# In the repository the templates live beside the function's main.py; main.py passes its own.
DEFAULT_FUNCTION_DIR = HERE.parents[2] / "admin"


class _JSON(DefaultJSONProvider):
    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def body_limit(path: str, default: int) -> int:
    """The largest request body for ``path``: only loading a model sends more than a form."""
    parts = path.strip("/").split("/")
    loading = len(parts) == 4 and parts[:2] == ["api", "models"] and parts[3] == "versions"
    return model_uploads.MAX_REQUEST_BYTES if loading else default


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
    app.jinja_env.filters["when"] = presenters.when
    app.jinja_env.filters["percent"] = presenters.percent
    app.jinja_env.globals["colour_names"] = specs.colour_names
    app.jinja_env.globals["confidence"] = listings.confidence
    app.jinja_env.globals["page_href"] = presenters.page_href

    @app.errorhandler(ApiError)
    def refused(error: ApiError) -> Any:
        if flask.request.path.startswith("/views/"):
            html = flask.render_template("error.html", error=error)
            return html, error.status, {"Content-Type": "text/html; charset=utf-8"}
        headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s is not None else {}
        return flask.jsonify(error.as_dict()), error.status, headers

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
        connect = " ".join(
            sorted({"'self'", *(origin_of(u) for u in origins().values())}),
        )
        response.headers["Content-Security-Policy"] = (
            # 'wasm-unsafe-eval' compiles LiteRT.js's WebAssembly, and nothing else: no eval()
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob: data:; "
            f"connect-src {connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if flask.request.path.startswith(("/api/", "/views/")) and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
