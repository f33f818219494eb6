"""The category model in the browser: the LiteRT.js runtime, and the model for sellers and managers."""

from __future__ import annotations

from typing import Any

import flask

from fashiontag.admin import browser_model
from fashiontag.admin.access import guarded
from fashiontag.admin.identity import Principal
from fashiontag.contract import MANAGER, SELLER

bp = flask.Blueprint("browser", __name__)
# Both addresses carry a version (the package's, the object's generation): never stale.
_FOR_GOOD = "max-age=31536000, immutable"


@bp.get("/assets/litert/<version>/<file_name>")
def litert_file(version: str, file_name: str) -> Any:
    """Public like the other assets: the runtime's code, no data."""
    path, content_type = browser_model.runtime_file(version, file_name)
    headers = {"Cache-Control": f"public, {_FOR_GOOD}"}
    if file_name == browser_model.RUNTIME_MODULE:
        return flask.Response(browser_model.runtime_module(), content_type=content_type, headers=headers)
    response = flask.send_file(path, mimetype=content_type, conditional=True)
    response.headers.update(headers)
    return response


@guarded(bp, "/api/browser-model", (SELLER, MANAGER))
def browser_model_json(p: Principal) -> Any:
    """The active category version (managers: ``?version=`` any registered one) for the browser."""
    return browser_model.describe(flask.request.args.get("version") or None, p.role)


@guarded(bp, "/api/browser-model/<version>/model.tflite", (SELLER, MANAGER))
def browser_model_file(p: Principal, version: str) -> Any:
    data = browser_model.model_file(version, flask.request.args.get("generation"), p.role)
    headers = {"Cache-Control": f"private, {_FOR_GOOD}"}
    return flask.Response(data, content_type="application/octet-stream", headers=headers)
