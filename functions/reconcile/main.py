"""reconcile: HTTP, called by Cloud Scheduler every few minutes (the local stack: every few
seconds); re-drives uploads without a finished product and collects dead letters."""

from __future__ import annotations

import logging

import flask
import functions_framework

from fashiontag.reconciler import reconcile as reconcile_once

logging.basicConfig(level=logging.INFO)


@functions_framework.http
def reconcile(request: flask.Request) -> flask.typing.ResponseReturnValue:
    if request.method != "POST":
        return {"error": "POST only"}, 405
    return reconcile_once().as_dict()
