"""Managers change the model registry from the page: promote, roll back, delete a version.

The models page itself, its report files and retraining are with the other manager routes
(``managers``); the model in the browser is in ``browser``.
"""

from __future__ import annotations

from typing import Any

import flask

from fashiontag.admin import models_view
from fashiontag.admin.access import guarded
from fashiontag.admin.identity import Principal
from fashiontag.admin.transport import json_body
from fashiontag.contract import MANAGER

bp = flask.Blueprint("models", __name__)


@guarded(bp, "/api/models/<name>/promote", (MANAGER,), ("POST",))
def promote(p: Principal, name: str) -> Any:
    body = json_body()
    return models_view.promote(p, name, body.get("version"), body.get("reason"))


@guarded(bp, "/api/models/<name>/rollback", (MANAGER,), ("POST",))
def rollback(p: Principal, name: str) -> Any:
    return models_view.rollback(p, name)


@guarded(bp, "/api/models/<name>/versions/<version>/delete", (MANAGER,), ("POST",))
def delete(p: Principal, name: str, version: str) -> Any:
    models_view.delete(name, version)
    return {"deleted": {"model": name, "version": version}}
