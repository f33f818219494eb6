"""The model registry: versions in the model bucket, their records and the active pointer in Firestore.

- ``models/{name}/{version}/`` in the model bucket holds the artefacts (model.tflite, model.json,
  report.json, pictures; model.keras when training produced one).
- ``models/{name}/versions/{version}``: status (candidate | active | retired | rejected),
  artifacts, metrics, dataset manifest, created_at, promoted_at, promoted_by.
- ``models/{name}``: active_version, and ``activations``, the ordered list of promotions, so a
  rollback knows what was live before.

Serving never trains and never imports TensorFlow: it reads the pointer and downloads the
artefacts of the active version (see ``serving``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, config, contract, events

CANDIDATE, ACTIVE, RETIRED, REJECTED = "candidate", "active", "retired", "rejected"
_TXN_ATTEMPTS = 20


class RegistryError(RuntimeError):
    """A refused registry operation, with a message for the person who asked for it."""


def _model_ref(name: str) -> firestore.DocumentReference:
    return clients.firestore_client().collection(contract.MODELS).document(name)


def _version_ref(name: str, version: str) -> firestore.DocumentReference:
    return _model_ref(name).collection("versions").document(version)


def artifact_prefix(name: str, version: str) -> str:
    return f"models/{name}/{version}/"


def register(
    name: str,
    version: str,
    local_dir: Path,
    metrics: dict[str, Any],
    dataset: dict[str, Any],
    status: str = CANDIDATE,
) -> dict[str, Any]:
    """Upload a trained version's files and record it; registering the same version again is a no-op."""
    existing = get_version(name, version)
    if existing:
        return existing
    bucket = clients.storage_client().bucket(config.model_bucket())
    prefix = artifact_prefix(name, version)
    files = sorted(p.name for p in local_dir.iterdir() if p.is_file())
    for file_name in files:
        bucket.blob(prefix + file_name).upload_from_filename(str(local_dir / file_name))
    record = {
        "name": name,
        "version": version,
        "status": status,
        "artifacts": {"bucket": bucket.name, "prefix": prefix, "files": files},
        "metrics": metrics,
        "dataset": dataset,
        "created_at": firestore.SERVER_TIMESTAMP,
    }
    # A concurrent registration of the same version may have won; its record stands.
    with contextlib.suppress(gexc.AlreadyExists):
        _version_ref(name, version).create(record)
    return get_version(name, version) or record


def get_version(name: str, version: str) -> dict[str, Any] | None:
    snap = _version_ref(name, version).get()
    return snap.to_dict() if snap.exists else None


def active_version(name: str) -> str | None:
    snap = _model_ref(name).get()
    return (snap.to_dict() or {}).get("active_version") if snap.exists else None


def list_versions(name: str) -> list[dict[str, Any]]:
    versions = [snap.to_dict() or {} for snap in _model_ref(name).collection("versions").stream()]
    return sorted(versions, key=lambda v: str(v.get("created_at", "")))


def set_status(name: str, version: str, status: str, **fields: Any) -> None:
    _version_ref(name, version).update({"status": status, **fields})


def promote(name: str, version: str, by: str, reason: str = "") -> dict[str, Any]:
    """Make ``version`` the live one (the previous one becomes retired) and announce it."""
    client = clients.firestore_client()
    model_ref, version_ref = _model_ref(name), _version_ref(name, version)

    @firestore.transactional
    def run(txn: firestore.Transaction) -> tuple[str | None, int]:
        target = version_ref.get(transaction=txn)
        pointer = model_ref.get(transaction=txn)
        if not target.exists:
            raise RegistryError(f"{name} {version} is not registered")
        if (target.to_dict() or {}).get("status") == REJECTED and not reason:
            raise RegistryError(f"{name} {version} was rejected by the promotion gate; give a reason to force it")
        current = (pointer.to_dict() or {}) if pointer.exists else {}
        previous = current.get("active_version")
        activations = list(current.get("activations", []))
        if previous == version:
            return previous, len(activations)
        now = dt.datetime.now(dt.UTC)
        activations.append({"version": version, "at": now, "by": by})
        pointer_fields = {"active_version": version, "activations": activations, "updated_at": now}
        txn.set(model_ref, pointer_fields, merge=True)
        txn.update(version_ref, {"status": ACTIVE, "promoted_at": now, "promoted_by": by})
        if previous:
            txn.update(_version_ref(name, previous), {"status": RETIRED})
        return previous, len(activations)

    previous, activation = run(client.transaction(max_attempts=_TXN_ATTEMPTS))
    if previous != version:
        events.publish(
            contract.TOPIC_MODEL_EVENTS,
            "model.promoted",
            f"model.promoted:{name}:{version}:{activation}",
            {"model": name, "version": version, "previous_version": previous, "by": by, "reason": reason},
        )
    return {"model": name, "version": version, "previous_version": previous}


def rollback(name: str, by: str) -> dict[str, Any]:
    """Re-activate the version that was live before the current one."""
    snap = _model_ref(name).get()
    current = (snap.to_dict() or {}) if snap.exists else {}
    active = current.get("active_version")
    earlier = [a["version"] for a in current.get("activations", []) if a["version"] != active]
    if not active or not earlier:
        raise RegistryError(f"{name} has no earlier version to roll back to")
    return promote(name, earlier[-1], by, reason=f"rollback from {active}")


def delete(name: str, version: str) -> None:
    """Remove a version's files and record; the active version cannot be deleted."""
    if active_version(name) == version:
        raise RegistryError(f"{name} {version} is the active version; promote another one before deleting it")
    record = get_version(name, version)
    if record is None:
        raise RegistryError(f"{name} {version} is not registered")
    bucket = clients.storage_client().bucket(record["artifacts"]["bucket"])
    for file_name in record["artifacts"]["files"]:
        blob = bucket.blob(record["artifacts"]["prefix"] + file_name)
        if blob.exists():
            blob.delete()
    _version_ref(name, version).delete()


def fetch(name: str, version: str, cache_root: Path | None = None) -> Path:
    """A local folder with the version's artefacts, downloaded once per instance."""
    root = (cache_root or config.model_cache_dir()) / name / version
    if (root / ".complete").is_file():
        return root
    record = get_version(name, version)
    if record is None:
        raise RegistryError(f"{name} {version} is not registered")
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    bucket = clients.storage_client().bucket(record["artifacts"]["bucket"])
    for file_name in record["artifacts"]["files"]:
        if file_name.endswith(".keras"):
            continue  # serving needs the LiteRT file only
        bucket.blob(record["artifacts"]["prefix"] + file_name).download_to_filename(str(partial / file_name))
    (partial / ".complete").touch()
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


def summary_metrics(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of a report worth querying in Firestore (which stores no nested arrays)."""
    keys = ("test_accuracy", "frozen_eval", "calibration", "auto_accept", "tflite_bytes", "train_seconds")
    summary = {k: report[k] for k in keys if k in report}
    if isinstance(report.get("photo_accuracy"), dict):
        summary["photo_accuracy"] = report["photo_accuracy"]["accuracy"]
    if isinstance(report.get("families"), dict):  # attribute models: per-family figures
        summary["families"] = {
            f: {"accuracy": r["accuracy"], "ece": r.get("ece_after")} for f, r in report["families"].items()
        }
    return summary


def ensure_registered_baseline(name: str, bundled_dir: Path, by: str = "bootstrap") -> str:
    """Register and activate the shipped baseline when the registry knows no version of ``name``."""
    active = active_version(name)
    if active:
        return active
    report_path = bundled_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    version = json.loads((bundled_dir / "model.json").read_text())["version"]
    dataset = {"source": "shipped with the code", **report.get("dataset", {})}
    register(name, version, bundled_dir, summary_metrics(report), dataset)
    promote(name, version, by, reason="baseline shipped with the code")
    return version
