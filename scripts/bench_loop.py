"""``make bench-loop``: the learning loop, measured end to end on the local stack.

1. A category model is trained on 5,000 Fashion-MNIST training images and made active.
2. Several thousand *other* training images, rendered as product photos, are uploaded through
   the real pipeline (bucket -> Pub/Sub -> bridge -> on_upload -> Firestore).
3. A simulated manager verifies each product, correcting the category to the true label.
4. A retraining request goes through the retrain function and its job; the gate decides.
5. Test accuracy before and after (each version's report) is written to bench/loop.json.

No test image is ever trained on; the frozen evaluation set stays out of every training run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

import numpy as np  # noqa: E402
from google.cloud import firestore  # noqa: E402

from fashiontag import clients, config, contract, fashion_mnist, products, registry, retraining, taxonomy  # noqa: E402
from fashiontag.local import stack  # noqa: E402
from fashiontag.renders import sets  # noqa: E402
from fashiontag.tools import uploads  # noqa: E402
from fashiontag.training import data  # noqa: E402

SELLER = "bench-loop-seller"
MANAGER = "simulated-manager"


def wait_run(request_id: str, timeout_s: float) -> dict[str, Any]:
    run = retraining.wait_for_run(request_id, timeout_s, poll_s=2)
    if run is None:
        raise SystemExit(f"retrain run {request_id} did not finish in {timeout_s:.0f} s")
    return run


def upload_photos(indices: np.ndarray, folder: Path, seed: int, workers: int) -> dict[str, int]:
    """Render and upload one photo per index; returns product id -> true label."""
    x, y = fashion_mnist.load_fashion_mnist("train")
    folder.mkdir(parents=True, exist_ok=True)

    def one(n: int) -> tuple[str, int]:
        index = int(indices[n])
        rng = np.random.default_rng([seed, index])
        path = folder / f"train-{index:05d}.jpg"
        path.write_bytes(sets.photo_bytes(x[index], rng, "everyday"))
        item = uploads.upload_files([path], SELLER, progress=False)[0]
        return item.product_id, int(y[index])

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(one, range(len(indices))))


def wait_products(truth: dict[str, int], timeout_s: float) -> dict[str, dict[str, Any]]:
    pending, done = set(truth), {}
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            doc = products.get(pid)
            if doc and products.is_finished(doc):
                done[pid] = doc
                pending.discard(pid)
        time.sleep(1)
    return done


def simulate_manager(finished: dict[str, dict[str, Any]], truth: dict[str, int]) -> dict[str, int]:
    """Verify every classified product with its true category (what a careful manager does)."""
    labels = taxonomy.load().labels
    counts = {"verified": 0, "corrected": 0, "rejected_uploads": 0}
    batch = clients.firestore_client().batch()
    pending = 0
    for pid, doc in finished.items():
        if doc["status"] == contract.REJECTED:
            counts["rejected_uploads"] += 1
            continue
        true_label = labels[truth[pid]]
        counts["verified"] += 1
        counts["corrected"] += int(doc["prediction"]["category"]["label"] != true_label)
        batch.update(
            products.product_ref(pid),
            {
                "status": contract.VERIFIED,
                "spec.category": true_label,
                "spec.source": "manager",
                "review": {"by": MANAGER, "at": firestore.SERVER_TIMESTAMP},
            },
        )
        pending += 1
        if pending == 400:
            batch.commit()
            batch, pending = clients.firestore_client().batch(), 0
    if pending:
        batch.commit()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", type=int, default=5000, help="training images of the starting model")
    parser.add_argument("--uploads", type=int, default=3000, help="further training images sent as uploads")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--workers", type=int, default=4, help="parallel uploaders")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--port-base", type=int, default=9900)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "loop.json")
    args = parser.parse_args()
    started = time.monotonic()
    name = config.CATEGORY_MODEL_NAME

    with tempfile.TemporaryDirectory() as tmp:
        cfg = stack.StackConfig.from_env(Path(tmp) / "stack", args.port_base)
        print("starting a stack ...", flush=True)
        os.environ.update(stack.up(cfg))
        try:
            print(f"1. training the starting model on {args.bootstrap} images ...", flush=True)
            first = retraining.request(name, MANAGER, "bench-loop", epochs=args.epochs, bootstrap_limit=args.bootstrap)
            run = wait_run(first, 1800)
            before_version = run["version"]
            registry.promote(name, before_version, MANAGER, reason=f"bench-loop: start from {args.bootstrap} images")
            before = registry.get_version(name, before_version) or {}

            extra = data.bootstrap_indices(None, args.seed)[args.bootstrap : args.bootstrap + args.uploads]
            print(f"2. uploading {len(extra)} further training images as photos ...", flush=True)
            time.sleep(6)  # let on_upload pick up the promoted version (local refresh: 5 s)
            t_upload = time.monotonic()
            truth = upload_photos(extra, Path(tmp) / "photos", args.seed, args.workers)
            finished = wait_products(truth, 900)
            upload_s = time.monotonic() - t_upload
            served = {d["prediction"]["model"]["version"] for d in finished.values() if d.get("prediction")}
            pipeline_acc = np.mean(
                [
                    d["prediction"]["category"]["label"] == taxonomy.load().labels[truth[p]]
                    for p, d in finished.items()
                    if d.get("prediction")
                ]
            )

            print("3. the simulated manager verifies and corrects ...", flush=True)
            counts = simulate_manager(finished, truth)

            print("4. retraining with the verified labels ...", flush=True)
            second = retraining.request(name, MANAGER, "bench-loop", epochs=args.epochs, bootstrap_limit=args.bootstrap)
            run = wait_run(second, 1800)
            after_version = run["version"]
            after = registry.get_version(name, after_version) or {}
        finally:
            stack.down(cfg)

    results = {
        "date": dt.date.today().isoformat(),
        "bootstrap_images": args.bootstrap,
        "uploaded_images": len(extra),
        "finished_products": len(finished),
        "served_by_versions": sorted(served),
        "pipeline_accuracy_on_uploads": round(float(pipeline_acc), 4),
        "manager": counts,
        "upload_and_classify_seconds": round(upload_s, 1),
        "before": {
            "version": before_version,
            "test_accuracy": before.get("metrics", {}).get("test_accuracy"),
            "frozen_eval_accuracy": before.get("metrics", {}).get("frozen_eval", {}).get("accuracy"),
            "photo_accuracy": before.get("metrics", {}).get("photo_accuracy"),
        },
        "after": {
            "version": after_version,
            "outcome": run.get("outcome"),
            "gate": after.get("metrics", {}).get("gate"),
            "test_accuracy": after.get("metrics", {}).get("test_accuracy"),
            "frozen_eval_accuracy": after.get("metrics", {}).get("frozen_eval", {}).get("accuracy"),
            "photo_accuracy": after.get("metrics", {}).get("photo_accuracy"),
            "dataset": after.get("dataset"),
        },
        "epochs": args.epochs,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
