"""classify: HTTP, one image in (raw bytes or a gs:// path), the ``fashiontag classify`` JSON out."""

from __future__ import annotations

import logging

import flask
import functions_framework

from fashiontag.classify_api import classify_request

logging.basicConfig(level=logging.INFO)


@functions_framework.http
def classify(request: flask.Request) -> flask.typing.ResponseReturnValue:
    return classify_request(request)
