"""After a promotion, products still awaiting review are scored again by the new version.

Each product is re-scored from the exact model input serving stored for it
(``derived/{id}/input.png``), in a transaction that only touches products still in
``needs_review`` and not yet scored by that version, so redelivery changes nothing.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
from google.cloud import firestore
from PIL import Image

from fashiontag import clients, config, contract, products
from fashiontag.inference import CategoryModel, CategoryPrediction

log = logging.getLogger(__name__)


def rescore_needs_review(model: CategoryModel) -> dict[str, int]:
    """Re-score every ``needs_review`` product with ``model``; returns counts of what happened."""
    collection = clients.firestore_client().collection(contract.PRODUCTS)
    query = collection.where(filter=firestore.FieldFilter("status", "==", contract.NEEDS_REVIEW))
    counts = {"rescored": 0, "auto_accepted": 0, "skipped": 0}
    bucket = clients.storage_client().bucket(config.upload_bucket())
    for snap in query.stream():
        doc = snap.to_dict() or {}
        path = (doc.get("derived") or {}).get("input")
        if not path or (doc.get("prediction") or {}).get("model", {}).get("version") == model.version:
            counts["skipped"] += 1
            continue
        image = np.asarray(Image.open(io.BytesIO(bucket.blob(path).download_as_bytes())).convert("RGB"))
        if image.shape[:2] != model.input_shape[:2]:
            counts["skipped"] += 1  # stored for a model that read photos differently: left to review
            continue
        prediction = model.predict(image)
        outcome = _apply(snap.id, model.version, prediction)
        counts[outcome] += 1
        if outcome == "rescored" and prediction.status == contract.AUTO_ACCEPTED:
            counts["auto_accepted"] += 1
    log.info("re-scored with %s %s: %s", model.name, model.version, counts)
    return counts


def _apply(product_id: str, version: str, prediction: CategoryPrediction) -> str:
    category = prediction.category_dict()
    ref = products.product_ref(product_id)

    @firestore.transactional
    def run(txn: firestore.Transaction) -> str:
        doc = ref.get(transaction=txn).to_dict() or {}
        stored = doc.get("prediction") or {}
        if doc.get("status") != contract.NEEDS_REVIEW or stored.get("model", {}).get("version") == version:
            return "skipped"  # reviewed meanwhile, or already re-scored by an earlier delivery
        status = prediction.status
        fields: dict[str, Any] = {
            "prediction.category": category,
            "prediction.model": prediction.model_dict(),
            "review_reason": prediction.review_reason(),
            "prediction.rescored_from": stored.get("model"),
            "prediction.at": firestore.SERVER_TIMESTAMP,
            "status": status,
            "updated_at": firestore.SERVER_TIMESTAMP,
        }
        if (doc.get("spec") or {}).get("source", "prediction") == "prediction":
            fields["spec.category"] = category["label"]
        txn.update(ref, fields)
        return "rescored"

    return str(run(clients.firestore_client().transaction(max_attempts=20)))
