"""Training data for the category model: bootstrap images plus what managers verified.

No TensorFlow here. Verified products contribute the exact model input serving computed for
them (``derived/{id}/input.png``), labelled with the manager's category, so training sees the
same normalisation as serving. The frozen evaluation images are never included.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.cloud import firestore
from PIL import Image

from fashiontag import clients, config, contract, fashion_mnist, images, taxonomy

LABELLED_STATUSES = (contract.VERIFIED, contract.PUBLISHED)


@dataclass(frozen=True)
class Dataset:
    """Bootstrap garments (28x28, rendered into photos by training) and verified uploads (model inputs)."""

    x: np.ndarray
    y: np.ndarray
    verified_x: np.ndarray
    verified_y: np.ndarray
    manifest: dict[str, Any]


def bootstrap_indices(limit: int | None, seed: int) -> np.ndarray:
    """Fashion-MNIST train indices usable for training (frozen set excluded), seeded order."""
    trainable, _ = fashion_mnist.frozen_split()
    order = np.random.default_rng(seed).permutation(trainable)
    return order[:limit] if limit else order


def verified_products(limit: int | None = None) -> list[tuple[str, np.ndarray, int]]:
    """(product id, model input, category index) of every verified or published product whose
    stored input is what the current model reads (``images.model_input``)."""
    labels = taxonomy.load().labels
    query = (
        clients.firestore_client()
        .collection(contract.PRODUCTS)
        .where(filter=firestore.FieldFilter("status", "in", list(LABELLED_STATUSES)))
    )
    bucket = clients.storage_client().bucket(config.upload_bucket())
    found = []
    for snap in query.stream():
        doc = snap.to_dict() or {}
        category = (doc.get("spec") or {}).get("category")
        path = (doc.get("derived") or {}).get("input")
        if category not in labels or not path:
            continue
        png = bucket.blob(path).download_as_bytes()
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.uint8)
        if image.shape[:2] != (images.MODEL_SIDE, images.MODEL_SIDE):
            continue  # stored for an earlier model that read photos differently
        found.append((snap.id, image, labels.index(category)))
        if limit and len(found) >= limit:
            break
    return sorted(found, key=lambda item: item[0])


def build_category_dataset(bootstrap_limit: int | None, seed: int, include_verified: bool = True) -> Dataset:
    x_all, y_all = fashion_mnist.load_fashion_mnist("train")
    idx = bootstrap_indices(bootstrap_limit, seed)
    products = verified_products() if include_verified else []
    side = images.MODEL_SIDE
    verified_x = np.stack([image for _, image, _ in products]) if products else np.zeros((0, side, side, 3), np.uint8)
    verified_y = np.array([label for _, _, label in products], dtype=np.int16)
    ids = "\n".join(pid for pid, _, _ in products).encode()
    manifest = {
        "fashion_mnist_train": len(idx),
        "fashion_mnist_indices_sha256": hashlib.sha256(np.sort(idx).tobytes()).hexdigest(),
        "verified_products": len(products),
        "verified_products_sha256": hashlib.sha256(ids).hexdigest(),
        "frozen_eval_excluded": fashion_mnist.FROZEN_EVAL_SIZE,
        "seed": seed,
    }
    return Dataset(x_all[idx], y_all[idx], verified_x, verified_y, manifest)


def garment_crops(photos_rgb: list[np.ndarray], size: int) -> np.ndarray:
    """Each photo's garment as serving crops it: located by the shipped category model's
    garment map (``inference.Garment.box``), then ``images.crop_box``."""
    from fashiontag.inference import get_category_model

    model = get_category_model()
    crops = np.zeros((len(photos_rgb), size, size, 3), dtype=np.uint8)
    for n, rgb in enumerate(photos_rgb):
        garment = model.predict(images.model_input(rgb)).garment
        crops[n] = images.crop_box(rgb, garment.box(*rgb.shape[:2]), size)
    return crops


# One verified product in five, chosen by its id, is kept for evaluating attribute models and
# never trained on, so the gate sees how versions read real photos and not only renders.
_ATTRIBUTE_EVAL_SHARE = 5


def in_attribute_eval(product_id: str) -> bool:
    return hashlib.sha256(product_id.encode()).digest()[0] % _ATTRIBUTE_EVAL_SHARE == 0


def verified_attribute_examples(
    category: str, size: int, evaluation: bool = False
) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """Crops and per-family label indices (-1 where the manager left a family open) of the
    verified or published products of ``category``, re-cut from the original upload: the
    training share, or with ``evaluation`` the share kept for comparing versions."""
    families = {f.id: f.values for f in taxonomy.load().category(category).families}
    query = (
        clients.firestore_client()
        .collection(contract.PRODUCTS)
        .where(filter=firestore.FieldFilter("status", "in", list(LABELLED_STATUSES)))
    )
    photos, ids = [], []
    labels: dict[str, list[int]] = {f: [] for f in families}
    for snap in query.stream():
        doc = snap.to_dict() or {}
        spec = doc.get("spec") or {}
        attributes = spec.get("attributes") or {}
        if spec.get("category") != category or not attributes or in_attribute_eval(snap.id) != evaluation:
            continue
        image = doc.get("image") or {}
        blob = clients.storage_client().bucket(image["bucket"]).blob(image["name"], generation=int(image["generation"]))
        photos.append(images.decode(blob.download_as_bytes(), config.limits()).rgb)
        ids.append(snap.id)
        for family, values in families.items():
            value = attributes.get(family)
            labels[family].append(values.index(value) if value in values else -1)
    x = garment_crops(photos, size)
    return x, {f: np.array(v, dtype=np.int32) for f, v in labels.items()}, ids
