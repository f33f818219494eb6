"""A category model loaded from the models page, checked before it is registered.

The admin function stages the files in the model bucket and announces ``model.uploaded``; the
classify function, which serves models (the admin function never loads one), runs
``handle_upload``: it checks the files and registers the version as a candidate, or records
why it refused it. Either way the staged files are removed, and a refused file changes nothing
else. A file made to crash or hang the runtime is opened by LiteRT in a child process
(``python -m fashiontag.model_check FOLDER``), so it is refused like any broken one.

Checked: ``model.json`` (name, version, labels exactly those of models/taxonomy.yaml, an input
of a whole photo, a positive temperature, a threshold in (0, 1]); ``model.tflite`` opens,
takes one float32 photo of that shape, has exactly one output of one probability per label,
and on a small smoke set of photos gives finite probabilities that sum to one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from fashiontag import clients, config, contract, registry, taxonomy

log = logging.getLogger(__name__)
CHILD_TIMEOUT_S = 60
SMOKE_PHOTOS = 6
MODEL_FILES = ("model.tflite", "model.json", "model_card.md")


class Refused(Exception):
    """The files cannot be registered; the message says why, for the manager who sent them."""


def _meta(folder: Path, name: str, version: str) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "model.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise Refused("model.json is not a JSON document.") from None
    if not isinstance(meta, dict):
        raise Refused("model.json must hold a JSON object.")
    if meta.get("name") != name or meta.get("version") != version:
        raise Refused(f"model.json names {meta.get('name')} {meta.get('version')}, not {name} {version}.")
    labels = taxonomy.load().labels
    if meta.get("labels") != labels:
        raise Refused(f"model.json's labels must be the taxonomy's categories, in order: {', '.join(labels)}.")
    shape = (meta.get("input") or {}).get("shape") if isinstance(meta.get("input"), dict) else None
    if not (isinstance(shape, list) and len(shape) == 3 and shape[0] == shape[1] and shape[2] == 3):
        raise Refused("model.json's input.shape must be a whole photo: [side, side, 3].")
    if not all(isinstance(d, int) and 16 <= d <= 1024 for d in shape[:2]):
        raise Refused("model.json's input side must be a whole number from 16 to 1024.")
    temperature = meta.get("temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 < temperature < 100:
        raise Refused("model.json's temperature must be a positive number below 100.")
    threshold = meta.get("auto_accept_threshold", 0.9)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        raise Refused("model.json's auto_accept_threshold must be a number in (0, 1].")
    return meta


def probe(folder: Path) -> dict[str, Any]:
    """Open model.tflite with LiteRT and run the smoke set (in the child process)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    meta = json.loads((folder / "model.json").read_text())
    side, labels = int(meta["input"]["shape"][0]), len(meta["labels"])
    try:
        interpreter = Interpreter(model_path=str(folder / "model.tflite"), num_threads=1)
        interpreter.allocate_tensors()
    except Exception as error:  # any refusal of the runtime is the file's fault
        return {"error": f"LiteRT cannot open model.tflite ({str(error)[:200]})."}
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()

    def shape(detail: dict[str, Any]) -> list[int]:
        return [int(d) for d in detail["shape"]]

    if len(inputs) != 1 or shape(inputs[0]) != [1, side, side, 3] or inputs[0]["dtype"] != np.float32:
        found = [(shape(i), str(i["dtype"])) for i in inputs]
        return {"error": f"model.tflite must take one float32 input of shape [1, {side}, {side}, 3]; it takes {found}."}
    scores = [o for o in outputs if shape(o) == [1, labels]]
    if len(scores) != 1:
        found_shapes = [shape(o) for o in outputs]
        return {"error": f"model.tflite must have one output of shape [1, {labels}]; it has {found_shapes}."}
    rng = np.random.default_rng(0)
    photos = [np.full((side, side, 3), 255.0), np.zeros((side, side, 3))]
    photos += [rng.uniform(0, 255, (side, side, 3)) for _ in range(SMOKE_PHOTOS - 2)]
    for photo in photos:
        interpreter.set_tensor(inputs[0]["index"], photo.astype(np.float32)[None])
        interpreter.invoke()
        probs = np.asarray(interpreter.get_tensor(scores[0]["index"])[0], dtype=np.float64)
        if not (np.isfinite(probs).all() and (probs >= 0).all() and abs(probs.sum() - 1) < 1e-3):
            return {"error": "model.tflite's output is not a probability for each label (finite, summing to 1)."}
    # As text: Firestore, where the registry keeps this, stores no arrays inside arrays.
    outputs_text = ["x".join(map(str, shape(o))) for o in outputs]
    return {"input": f"{side}x{side}x3", "outputs": outputs_text, "smoke_photos": len(photos)}


def check(folder: Path, name: str, version: str) -> dict[str, Any]:
    """What the smoke run found, or Refused with the reason."""
    if name != config.CATEGORY_MODEL_NAME:
        raise Refused(f"Only {config.CATEGORY_MODEL_NAME} versions can be loaded from the page.")
    _meta(folder, name, version)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fashiontag.model_check", str(folder)],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Refused(f"model.tflite did not finish the smoke set within {CHILD_TIMEOUT_S} s.") from None
    if done.returncode != 0:
        log.warning("model check child failed (%s): %s", done.returncode, done.stderr[-2000:])
        raise Refused("model.tflite made the runtime fail; it is not a model LiteRT can run.")
    found: dict[str, Any] = json.loads(done.stdout)
    if "error" in found:
        raise Refused(str(found["error"]))
    return found


def _upload_ref(upload_id: str) -> firestore.DocumentReference:
    return clients.firestore_client().collection(contract.MODEL_UPLOADS).document(upload_id)


def handle_upload(upload_id: str) -> str:
    """Check a staged upload and register it, or record the refusal; a redelivery does nothing."""
    ref = _upload_ref(upload_id)
    upload = (ref.get().to_dict() or {}) if upload_id else {}
    if upload.get("status") != contract.UPLOAD_CHECKING:
        return "ignored"
    name, version, prefix = upload["name"], upload["version"], upload["staged_prefix"]
    bucket = clients.storage_client().bucket(config.model_bucket())
    outcome: dict[str, Any]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        try:
            for blob in bucket.list_blobs(prefix=prefix):
                file_name = blob.name.removeprefix(prefix)
                if file_name in MODEL_FILES:
                    blob.download_to_filename(str(folder / file_name))
            if not (folder / "model.tflite").is_file() or not (folder / "model.json").is_file():
                raise Refused("The upload needs model.tflite and model.json.")
            if registry.get_version(name, version):
                raise Refused(f"{name} {version} is registered already.")
            found = check(folder, name, version)
            dataset = {"source": "loaded from the models page", "by": upload.get("by")}
            registry.register(name, version, folder, {"smoke": found}, dataset)
            outcome = {"status": contract.UPLOAD_REGISTERED}
        except Refused as refusal:
            outcome = {"status": contract.UPLOAD_REFUSED, "error": str(refusal)}
        finally:
            for blob in bucket.list_blobs(prefix=prefix):
                with contextlib.suppress(gexc.NotFound):  # a redelivery removed it already
                    blob.delete()
    ref.update({**outcome, "updated_at": firestore.SERVER_TIMESTAMP})
    return str(outcome["status"])


if __name__ == "__main__":
    print(json.dumps(probe(Path(sys.argv[1]))))
