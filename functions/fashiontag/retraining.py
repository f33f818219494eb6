"""Retraining requests: validated, recorded once per request, handed to a training job.

The retrain function calls ``handle_request`` for each message on ``retrain-requests`` (from
the schedule, the admin page, the CLI, or the automatic label trigger). It records the run in
``retrain_runs/{request_id}`` exactly once and launches the job; the job (``training.job``)
builds the data set, trains, evaluates candidate and active version on the frozen evaluation
set, registers the candidate and promotes it only through the gate. Training never runs inside
the function: locally the job is a subprocess, in the cloud a Cloud Run job execution.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, config, contract, events, polling, pubsub

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, SKIPPED = "queued", "running", "done", "failed", "skipped"
# Attribute models need a bootstrap data set besides verified labels: only trousers have one
# (the synthetic renderer), so only their attribute model is retrained today.
TROUSER_ATTRIBUTES = config.attribute_model_name("trouser")
TRAINABLE_MODELS = (config.CATEGORY_MODEL_NAME, TROUSER_ATTRIBUTES)


class InvalidRequest(ValueError):
    pass


@dataclass(frozen=True)
class RetrainParams:
    model: str = config.CATEGORY_MODEL_NAME
    epochs: int = 10
    bootstrap_limit: int | None = None  # Fashion-MNIST train images to include (None: all)
    seed: int = 20261130
    min_new_labels: int = 0  # a scheduled run trains only when this many new labels exist
    synthetic: int = 6000  # attribute models: synthetic renders to train on
    eval_renders: int = 600  # attribute models: synthetic renders in the frozen evaluation set

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> RetrainParams:
        model = message.get("model", config.CATEGORY_MODEL_NAME)
        if model not in TRAINABLE_MODELS:
            raise InvalidRequest(f"no trainer for model {model!r} (trainable: {', '.join(TRAINABLE_MODELS)})")
        epochs = int(message.get("epochs", cls.epochs))
        limit = message.get("bootstrap_limit")
        if not 1 <= epochs <= 60:
            raise InvalidRequest("epochs must be between 1 and 60")
        if limit is not None and not 100 <= int(limit) <= 55000:
            raise InvalidRequest("bootstrap_limit must be between 100 and 55000")
        synthetic = int(message.get("synthetic", cls.synthetic))
        eval_renders = int(message.get("eval_renders", cls.eval_renders))
        if not 0 <= synthetic <= 50000:
            raise InvalidRequest("synthetic must be between 0 and 50000")
        if not 50 <= eval_renders <= 5000:
            raise InvalidRequest("eval_renders must be between 50 and 5000")
        return cls(
            model=model,
            epochs=epochs,
            bootstrap_limit=int(limit) if limit is not None else None,
            seed=int(message.get("seed", cls.seed)),
            min_new_labels=int(message.get("min_new_labels", 0)),
            synthetic=synthetic,
            eval_renders=eval_renders,
        )


def run_ref(request_id: str) -> firestore.DocumentReference:
    return clients.firestore_client().collection(contract.RETRAIN_RUNS).document(request_id)


def get_run(request_id: str) -> dict[str, Any] | None:
    snap = run_ref(request_id).get()
    return snap.to_dict() if snap.exists else None


def wait_for_run(request_id: str, timeout_s: float, poll_s: float = 1.0) -> dict[str, Any] | None:
    """The run once it is done, failed or skipped; None when ``timeout_s`` passes first."""

    def finished() -> dict[str, Any] | None:
        run = get_run(request_id) or {}
        return run if run.get("status") in (DONE, FAILED, SKIPPED) else None

    return polling.poll(finished, timeout_s, poll_s)


def update_run(request_id: str, **fields: Any) -> None:
    run_ref(request_id).update({**fields, "updated_at": firestore.SERVER_TIMESTAMP})


def new_version(request_id: str) -> str:
    """Sortable, unique per request, readable: 20261130-031500-ab12cd."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c for c in request_id if c.isalnum())[-6:] or "run"
    return f"{stamp}-{safe}"


def labels_since_active(model: str) -> int:
    """Verified or published products the active version has not seen (trained on or held out).

    Every verified product labels the category model; an attribute model counts those of its
    category only.
    """
    from fashiontag import registry

    active = registry.active_version(model)
    used = 0
    if active:
        used = int(((registry.get_version(model, active) or {}).get("dataset") or {}).get("verified_products", 0))
    query = (
        clients.firestore_client()
        .collection(contract.PRODUCTS)
        .where(filter=firestore.FieldFilter("status", "in", [contract.VERIFIED, contract.PUBLISHED]))
    )
    if model != config.CATEGORY_MODEL_NAME:
        category = config.attribute_model_category(model)
        query = query.where(filter=firestore.FieldFilter("spec.category", "==", category))
    counted: Any = query.count()  # the client's stubs miss the nested result type
    total = counted.get()[0][0].value
    return max(0, int(total) - used)


def handle_push(data: dict[str, Any], fallback_id: str) -> str:
    """One Pub/Sub push: a retrain request, or a product event for the label trigger."""
    try:
        # The scheduler's requests name their type, but a message without one is a request too.
        event = pubsub.decode(data, default_type=contract.RETRAIN_REQUESTED, fallback_id=fallback_id)
    except pubsub.Malformed as error:
        log.error("dropping a malformed message: %s", error)
        return "ignored"  # a poison message must not be retried forever
    if event.type.startswith("product."):
        return ", ".join(on_product_event(event, model) for model in TRAINABLE_MODELS)
    if event.type == contract.RETRAIN_REQUESTED:
        return handle_request(event.payload, event.message_id)
    log.warning("ignoring %s", event.type)
    return "ignored"


def handle_request(message: dict[str, Any], event_id: str) -> str:
    """Record and launch one retraining run; any redelivery of the same request does nothing."""
    request_id = str(message.get("request_id") or event_id)
    try:
        params = RetrainParams.from_message(message)
    except (InvalidRequest, TypeError, ValueError) as error:
        log.warning("refused retrain request %s: %s", request_id, error)
        doc = {"request": message, "status": FAILED, "error": str(error), "created_at": firestore.SERVER_TIMESTAMP}
        run_ref(request_id).set(doc, merge=True)
        return FAILED
    run = {
        "request": {k: v for k, v in message.items() if k != "type"},
        "params": asdict(params),
        "version": new_version(request_id),
        "status": QUEUED,
        "created_at": firestore.SERVER_TIMESTAMP,
        "updated_at": firestore.SERVER_TIMESTAMP,
    }
    try:
        run_ref(request_id).create(run)
    except gexc.AlreadyExists:
        log.info("retrain request %s already recorded", request_id)
        return "duplicate"
    if params.min_new_labels:
        fresh = labels_since_active(params.model)
        if fresh < params.min_new_labels:
            update_run(request_id, status=SKIPPED, reason=f"{fresh} new labels, {params.min_new_labels} needed")
            return SKIPPED
    try:
        job = launch_job(request_id)
    except Exception as error:
        update_run(request_id, status=FAILED, error=f"could not start the training job: {error}")
        raise
    update_run(request_id, status=RUNNING, job=job)
    return RUNNING


def launch_job(request_id: str) -> dict[str, Any]:
    """Start the training job for a recorded run: a local subprocess, or a Cloud Run job execution."""
    if config.training_backend() == "cloud_run":
        return _launch_cloud_run(request_id)
    log_dir = config.job_log_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{request_id}.log"
    with log_path.open("ab") as log_file:
        # Same process group as the function: stopping the local stack stops its jobs too.
        proc = subprocess.Popen(
            [sys.executable, "-m", "fashiontag.training.job", "--run", request_id],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=os.environ.copy(),
            cwd=Path(__file__).resolve().parents[1],
        )
    return {"backend": "subprocess", "pid": proc.pid, "log": str(log_path)}


def _launch_cloud_run(request_id: str) -> dict[str, Any]:
    # Not executed here (no cloud): the same job image runs `python -m fashiontag.training.job`.
    from google.cloud import run_v2

    client = run_v2.JobsClient()
    name = client.job_path(config.project(), config.region(), config.training_job())
    override = run_v2.RunJobRequest.Overrides.ContainerOverride(args=["--run", request_id])
    operation = client.run_job(
        request=run_v2.RunJobRequest(
            name=name, overrides=run_v2.RunJobRequest.Overrides(container_overrides=[override])
        )
    )
    return {"backend": "cloud_run", "job": name, "operation": operation.operation.name}


LABEL_EVENTS = (contract.PRODUCT_REVIEWED, contract.PRODUCT_PUBLISHED)


def on_product_event(event: pubsub.Event, model: str) -> str:
    """The automatic trigger: every ``FASHIONTAG_AUTO_RETRAIN_LABELS`` new labels of ``model``, one request.

    The request id is derived from the active version and how many thresholds the new labels
    have crossed, so redelivered or concurrent events request that run once.
    """
    threshold = config.auto_retrain_labels()
    if event.type not in LABEL_EVENTS or threshold <= 0:
        return "ignored"
    fresh = labels_since_active(model)
    if fresh < threshold:
        return "waiting"
    from fashiontag import registry

    active = registry.active_version(model) or "shipped"
    request_id = f"auto-{model}-{active}-{fresh // threshold}"
    if get_run(request_id):
        return "duplicate"
    publish_request(request_id, model, "automatic", "labels", min_new_labels=threshold)
    return "requested"


def request(model: str, requested_by: str, reason: str, **params: Any) -> str:
    """Publish a retrain request (CLI, admin page); returns its request id."""
    request_id = f"{reason}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S%f}"
    return publish_request(request_id, model, requested_by, reason, **params)


def publish_request(request_id: str, model: str, requested_by: str, reason: str, **params: Any) -> str:
    events.publish(
        contract.TOPIC_RETRAIN_REQUESTS,
        contract.RETRAIN_REQUESTED,
        request_id,
        {"request_id": request_id, "model": model, "requested_by": requested_by, "reason": reason, **params},
    )
    return request_id
