"""What managers see and do of the models: the registry's versions with their reports,
promotion, rollback, deletion, and retraining.

The registry (``fashiontag.registry``) keeps ``models/{name}`` and its ``versions`` and makes
every change; this module reads them, serves a version's report files from the model bucket,
checks what a manager asked for (names, a reason where the gate said no) and publishes a
retrain request. The command line (``fashiontag models ...``) does the same through the registry.
"""

from __future__ import annotations

import math
import re
from typing import Any

from google.cloud import firestore

from fashiontag import clients, config, contract, registry, retraining
from fashiontag.admin import identity
from fashiontag.admin.errors import Conflict, Invalid, NotFound
from fashiontag.admin.identity import Principal

# Report files a manager may open from the model bucket, by extension.
REPORT_TYPES = {".json": "application/json", ".png": "image/png", ".md": "text/plain; charset=utf-8"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
MAX_REASON = 500


def _summary(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """The handful of numbers worth a glance, whatever the version's metrics hold."""
    picked: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float):
            picked.append((label, f"{value:.3f}" if isinstance(value, float) else str(value)))

    frozen = metrics.get("frozen_eval") or {}
    add("frozen-set accuracy", frozen.get("accuracy") if isinstance(frozen, dict) else None)
    add("test accuracy", metrics.get("test_accuracy"))
    add("photo accuracy", metrics.get("photo_accuracy"))
    report = metrics.get("report") or {}
    if isinstance(report, dict):
        add("test accuracy", report.get("test_accuracy") or report.get("accuracy"))
    for key, value in metrics.items():
        if key not in ("test_accuracy", "photo_accuracy") and isinstance(value, int | float):
            add(key.replace("_", " "), value)
    return picked


def models() -> list[dict[str, Any]]:
    """Every model in the registry with its versions, newest first; [] before the first one."""
    found = []
    # list_documents: a model may have versions before its own document (the active pointer).
    for ref in clients.firestore_client().collection(contract.MODELS).list_documents():
        doc = ref.get().to_dict() or {}
        versions = []
        for version in reversed(registry.list_versions(ref.id)):
            metrics = version.get("metrics") or {}
            gate = metrics.get("gate") if isinstance(metrics.get("gate"), dict) else {}
            artifacts = version.get("artifacts") or {}
            versions.append(
                {
                    **version,
                    "version": version.get("version", ""),
                    "summary": _summary(metrics),
                    "gate_reasons": (gate or {}).get("reasons") or [],
                    # promoting a version the gate rejected takes a reason (registry.promote)
                    "needs_reason": version.get("status") == registry.REJECTED,
                    "report_files": [f for f in artifacts.get("files", []) if _report_type(f)],
                }
            )
        if doc or versions:
            earlier = [
                a.get("version") for a in doc.get("activations", []) if a.get("version") != doc.get("active_version")
            ]
            found.append(
                {
                    "name": ref.id,
                    "active_version": doc.get("active_version"),
                    "rollback_to": earlier[-1] if earlier else None,
                    "versions": versions,
                }
            )
    return found


def runs(limit: int = 20) -> list[dict[str, Any]]:
    query = (
        clients.firestore_client()
        .collection(contract.RETRAIN_RUNS)
        .order_by("created_at", direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    emails = {u["uid"]: u.get("email") for u in identity.list_users()}
    found = []
    for snap in query.stream():
        run = snap.to_dict() or {}
        # The request names a uid (admin, command line) or what asked (the schedule, the label count).
        asker = str((run.get("request") or {}).get("requested_by") or "")
        found.append({"id": snap.id, **run, "requested_by": emails.get(asker) or asker})
    return found


def _report_type(file_name: str) -> str | None:
    for ext, content_type in REPORT_TYPES.items():
        if file_name.endswith(ext):
            return content_type
    return None


def report_file(name: str, version: str, file_name: str) -> tuple[bytes, str]:
    """One report file of a registered version (only files its record lists)."""
    if not all(_NAME.match(part or "") for part in (name, version, file_name)):
        raise NotFound("No such report file.")
    record = registry.get_version(name, version)
    files = ((record or {}).get("artifacts") or {}).get("files", [])
    content_type = _report_type(file_name)
    if record is None or file_name not in files or content_type is None:
        raise NotFound("No such report file.")
    artifacts = record["artifacts"]
    bucket = clients.storage_client().bucket(artifacts.get("bucket") or config.model_bucket())
    blob = bucket.blob(f"{artifacts.get('prefix') or registry.artifact_prefix(name, version)}{file_name}")
    return blob.download_as_bytes(end=20_000_000), content_type


def _whole(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if isinstance(value, bool) or not finite or int(value) != value:
        raise Invalid(f"{name} must be a whole number")
    if not low <= value <= high:
        raise Invalid(f"{name} must be between {low} and {high}")
    return int(value)


def request_retraining(principal: Principal, model: Any, epochs: Any = None, min_new_labels: Any = None) -> str:
    """Publish ``retrain.requested`` on retrain-requests; returns the request id.

    ``min_new_labels`` makes the run train only when that many new verified labels exist.
    """
    model = model or config.CATEGORY_MODEL_NAME
    if model not in retraining.TRAINABLE_MODELS:
        raise Invalid(f"'{model}' cannot be retrained (trainable: {', '.join(retraining.TRAINABLE_MODELS)})")
    params: dict[str, int] = {}
    for name, value in (
        ("epochs", _whole(epochs, "epochs", 1, 60)),
        ("min_new_labels", _whole(min_new_labels, "min_new_labels", 0, 1_000_000)),
    ):
        if value is not None:
            params[name] = value
    return retraining.request(str(model), principal.uid, "admin", **params)


def _checked(*parts: Any) -> None:
    if not all(isinstance(part, str) and _NAME.match(part) for part in parts):
        raise NotFound("No such model version.")


def _reason(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise Invalid(f"reason must be text of at most {MAX_REASON} characters")
    return value.strip()


def _by(principal: Principal) -> str:
    return principal.email or principal.uid


def promote(principal: Principal, name: str, version: Any, reason: Any = None) -> dict[str, Any]:
    """Make ``version`` live; one the gate rejected only with a reason (kept on the event)."""
    _checked(name, version)
    try:
        return registry.promote(name, version, _by(principal), reason=_reason(reason))
    except registry.RegistryError as error:
        raise Conflict(str(error)) from None


def rollback(principal: Principal, name: str) -> dict[str, Any]:
    _checked(name)
    try:
        return registry.rollback(name, _by(principal))
    except registry.RegistryError as error:
        raise Conflict(str(error)) from None


def delete(name: str, version: Any) -> None:
    """Remove a version's files and record; never the active one."""
    _checked(name, version)
    try:
        registry.delete(name, version)
    except registry.RegistryError as error:
        raise Conflict(str(error)) from None
