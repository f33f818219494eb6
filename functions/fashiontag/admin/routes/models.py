"""Managers and the model registry: the models page, its reports, retraining, and changes to the
versions (promote, roll back, delete, load a new one). The model in the browser is in ``browser``."""

from __future__ import annotations

from typing import Any

import flask

from fashiontag import config, retraining
from fashiontag.admin import model_uploads, models_view, trials
from fashiontag.admin.access import guarded
from fashiontag.admin.identity import Principal
from fashiontag.admin.transport import json_body
from fashiontag.contract import MANAGER

bp = flask.Blueprint("models", __name__)


@guarded(bp, "/api/models", (MANAGER,))
def models_json(p: Principal) -> Any:
    return {"models": models_view.models(), "runs": models_view.runs(), "uploads": model_uploads.recent()}


@guarded(bp, "/views/models", (MANAGER,))
def models_page(p: Principal) -> Any:
    return flask.render_template(
        "models.html",
        me=p,
        models=models_view.models(),
        runs=models_view.runs(),
        uploads=model_uploads.recent(),
        upload_limits=model_uploads.MAX_BYTES,
        trainable=retraining.TRAINABLE_MODELS,
        category=config.CATEGORY_MODEL_NAME,
    )


@guarded(bp, "/api/models/<name>/versions/<version>/files/<file_name>", (MANAGER,))
def model_file(p: Principal, name: str, version: str, file_name: str) -> Any:
    data, content_type = models_view.report_file(name, version, file_name)
    return flask.Response(data, content_type=content_type)


@guarded(bp, "/api/retrain", (MANAGER,), ("POST",))
def retrain(p: Principal) -> Any:
    body = json_body()
    request_id = models_view.request_retraining(p, body.get("model"), body.get("epochs"), body.get("min_new_labels"))
    return {"request_id": request_id}, 202


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


@guarded(bp, "/api/models/<name>/versions", (MANAGER,), ("POST",))
def load_version(p: Principal, name: str) -> Any:
    """A multipart form: ``version`` and the files, each sent under its own file name."""
    flask.request.max_content_length = model_uploads.MAX_REQUEST_BYTES
    files = {key: f.read() for key, f in flask.request.files.items() if key in model_uploads.MAX_BYTES}
    upload_id = model_uploads.stage(p, name, flask.request.form.get("version"), files)
    return {"upload_id": upload_id, "status": "checking"}, 202


@guarded(bp, "/api/models/category/try", (MANAGER,), ("POST",))
def try_model(p: Principal) -> Any:
    """A multipart form: ``version`` (empty: the active one), and a photo ``image`` or a ``product_id``."""
    flask.request.max_content_length = config.limits().max_bytes + 64_000
    upload = flask.request.files.get("image")
    image = upload.read() if upload and upload.filename else None
    content_type = upload.mimetype if upload else ""
    form = flask.request.form
    return trials.try_version(p, form.get("version"), image, content_type, (form.get("product_id") or "").strip())
