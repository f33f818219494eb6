"""Training data for the category model: bootstrap images plus what managers verified.

No TensorFlow here. Verified products contribute the exact 28x28 input serving computed for
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

from fashiontag import clients, config, contract, datasets, taxonomy

LABELLED_STATUSES = (contract.VERIFIED, contract.PUBLISHED)


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray
    y: np.ndarray
    manifest: dict[str, Any]


def bootstrap_indices(limit: int | None, seed: int) -> np.ndarray:
    """Fashion-MNIST train indices usable for training (frozen set excluded), seeded order."""
    trainable, _ = datasets.frozen_split()
    order = np.random.default_rng(seed).permutation(trainable)
    return order[:limit] if limit else order


def verified_products(limit: int | None = None) -> list[tuple[str, np.ndarray, int]]:
    """(product id, 28x28 input, category index) of every verified or published product."""
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
        image = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.uint8)
        found.append((snap.id, image, labels.index(category)))
        if limit and len(found) >= limit:
            break
    return sorted(found, key=lambda item: item[0])


def build_category_dataset(bootstrap_limit: int | None, seed: int, include_verified: bool = True) -> Dataset:
    x_all, y_all = datasets.load_fashion_mnist("train")
    idx = bootstrap_indices(bootstrap_limit, seed)
    products = verified_products() if include_verified else []
    x_parts, y_parts = [x_all[idx]], [y_all[idx]]
    if products:
        x_parts.append(np.stack([image for _, image, _ in products]))
        y_parts.append(np.array([label for _, _, label in products], dtype=np.uint8))
    ids = "\n".join(pid for pid, _, _ in products).encode()
    manifest = {
        "fashion_mnist_train": len(idx),
        "fashion_mnist_indices_sha256": hashlib.sha256(np.sort(idx).tobytes()).hexdigest(),
        "verified_products": len(products),
        "verified_products_sha256": hashlib.sha256(ids).hexdigest(),
        "frozen_eval_excluded": datasets.FROZEN_EVAL_SIZE,
        "seed": seed,
    }
    return Dataset(np.concatenate(x_parts), np.concatenate(y_parts), manifest)


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
    from fashiontag import images

    families = {f.id: f.values for f in taxonomy.load().category(category).families}
    query = (
        clients.firestore_client()
        .collection(contract.PRODUCTS)
        .where(filter=firestore.FieldFilter("status", "in", list(LABELLED_STATUSES)))
    )
    crops, ids = [], []
    labels: dict[str, list[int]] = {f: [] for f in families}
    for snap in query.stream():
        doc = snap.to_dict() or {}
        spec = doc.get("spec") or {}
        attributes = spec.get("attributes") or {}
        if spec.get("category") != category or not attributes or in_attribute_eval(snap.id) != evaluation:
            continue
        image = doc.get("image") or {}
        blob = clients.storage_client().bucket(image["bucket"]).blob(image["name"], generation=int(image["generation"]))
        photo = images.decode(blob.download_as_bytes(), config.limits())
        crops.append(images.garment_crop(photo.rgb, size))
        ids.append(snap.id)
        for family, values in families.items():
            value = attributes.get(family)
            labels[family].append(values.index(value) if value in values else -1)
    x = np.stack(crops) if crops else np.zeros((0, size, size, 3), dtype=np.uint8)
    return x, {f: np.array(v, dtype=np.int32) for f, v in labels.items()}, ids
