"""admin: HTTP, the admin page for managers and the seller and buyer views (Flask inside).

functions-framework hands every request to ``admin``; it runs through one Flask app, created
once per instance on first use, whose routes verify the caller's ID token and role.
"""

from __future__ import annotations

import functools
import io
import logging
from pathlib import Path

import flask
import functions_framework

from fashiontag.admin import web

logging.basicConfig(level=logging.INFO)


@functools.cache
def _app() -> flask.Flask:
    return web.create_app(function_dir=Path(__file__).resolve().parent)


@functions_framework.http
def admin(request: flask.Request) -> flask.typing.ResponseReturnValue:
    app = _app()
    if (request.content_length or 0) > web.body_limit(request.path, app.config["MAX_CONTENT_LENGTH"]):
        return {"error": "The request is too large."}, 413
    # functions-framework reads the body again after the function returns: read it once here
    # and give the admin app its own copy of the stream.
    data = request.get_data(cache=True)
    environ = {**request.environ, "wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data))}
    with app.request_context(environ):
        return app.full_dispatch_request()
