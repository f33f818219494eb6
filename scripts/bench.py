"""``make bench``: serving latency, cold start and upload-to-Firestore latency, written to JSON.

Every figure is measured in this one run, on this machine, and the comparisons are ratios
taken within the run (the machine is noisy; absolute numbers move between runs).

1. Per-image latency of the category model: LiteRT (quantised and float) against Keras; the
   whole classification of one 800-px photo (decode to answer) on one core; accuracy and
   auto-accept precision on freshly rendered test photos (studio, everyday, unseen families).
2. on_upload cold start: from spawning a fresh functions-framework process to the first
   prediction written to Firestore (the function's answer to a CloudEvent comes after it).
3. The cost of an upload through the whole local pipeline (fake-gcs-server -> Pub/Sub ->
   delivery -> on_upload -> Firestore -> notify): calls per upload, CPU per upload of every
   process, latency at 10 and 20 uploads a second and for a burst of 100 (scripts/bench_cost.py).
4. The category model in the browser (scripts/bench_browser.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

sys.path.insert(0, str(ROOT))  # tests.events: the CloudEvents bench_cost sends

from bench_browser import bench_browser  # noqa: E402 (scripts/bench_browser.py)
from bench_cost import bench_cost  # noqa: E402 (scripts/bench_cost.py)

from fashiontag import classification, config, evaluation, fashion_mnist, images, products  # noqa: E402
from fashiontag.inference import CategoryModel  # noqa: E402
from fashiontag.local import stack  # noqa: E402
from fashiontag.renders import sets  # noqa: E402


def _median_ms(fn: Any, inputs: Any) -> float:
    for x in inputs[:30]:
        fn(x)
    timings = []
    for x in inputs:
        started = time.perf_counter()
        fn(x)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def bench_inference(n: int) -> dict[str, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    garments, _ = fashion_mnist.load_fashion_mnist("test")
    x = np.stack([images.clean_input(g) for g in garments[:n]])
    model_dir = config.category_model_dir()
    quantised = CategoryModel.from_dir(model_dir)
    labels, name, version = quantised.labels, quantised.name, quantised.version
    float_model = CategoryModel(model_dir, labels, name, version, file_name="model-float.tflite")
    started = time.perf_counter()
    import keras

    import_s = time.perf_counter() - started
    from fashiontag.training import category

    # The graph the .tflite holds: the trained network and the looks around it.
    keras_model = category.served_model(keras.models.load_model(model_dir / "model.keras"))
    batch = x.astype(np.float32)

    def keras_one(img: np.ndarray) -> Any:
        return keras_model(img[None].astype(np.float32), training=False)

    litert_q = _median_ms(quantised.probabilities, x)
    litert_f = _median_ms(float_model.probabilities, x)
    keras_ms = _median_ms(keras_one, x)
    agree = float(
        np.mean(
            np.argmax(keras_model(batch, training=False)["category"], axis=1)
            == np.array([np.argmax(quantised.probabilities(img)) for img in x])
        )
    )
    return {
        "images": n,
        "litert_quantised_ms": round(litert_q, 4),
        "litert_float_ms": round(litert_f, 4),
        "keras_ms": round(keras_ms, 4),
        "keras_over_litert_quantised": round(keras_ms / litert_q, 1),
        "keras_over_litert_float": round(keras_ms / litert_f, 1),
        "tensorflow_import_s": round(import_s, 2),
        "prediction_agreement_keras_vs_litert_quantised": agree,
    }


def _photos(count: int, folder: Path) -> list[Path]:
    x, y = fashion_mnist.load_fashion_mnist("test")
    sets.write_photos(x, y, folder, count=count, seed=99, style="everyday")
    return sorted(folder.glob("*.jpg"))


def bench_photos(count: int, folder: Path) -> dict[str, Any]:
    """Accuracy and auto-accept figures on photos of test garments, 480-800 px, as served; and
    the time to classify one 800-px photo end to end (decode, model, attributes, colours)."""
    x, y = fashion_mnist.load_fashion_mnist("test")
    model = CategoryModel.from_dir(config.category_model_dir())
    result: dict[str, Any] = {}
    for n, kind in enumerate(("studio", "everyday", "unseen")):
        sets.write_photos(x, y, folder / kind, count=count, seed=300 + n, style=kind, prefix=kind)
        scored = evaluation.evaluate_folder(folder / kind, model)
        result[kind] = {
            "photos": scored["count"],
            "accuracy": scored["accuracy"],
            "auto_accept_share": scored["auto_accept"]["share"],
            "auto_accept_precision": scored["auto_accept"]["precision"],
            "no_garment_found": scored["no_garment_found"],
        }
    result["threshold"] = model.threshold
    rng = np.random.default_rng(5)
    sized = []
    for i in range(60):
        scene = sets.photos.render(x[i], rng, sets.photos.STYLES["everyday"], side=800, jpeg=False)
        sized.append(sets.encode_jpeg(Image.fromarray(scene.rgb, "RGB"), 85))
    result["classify_800px_ms"] = round(_median_ms(lambda data: classification.classify_bytes(data, model), sized), 2)
    result["model_tflite_bytes"] = (config.category_model_dir() / "model.tflite").stat().st_size
    return result


def bench_cold_start(cfg: stack.StackConfig, photos: list[Path], runs: int) -> dict[str, Any]:
    from fashiontag import topology
    from fashiontag.tools import uploads

    port = cfg.ports["classify"] + 10
    timings = []
    with stack.paused(cfg, topology.LOCAL_SUBSCRIPTIONS[0].name):
        for path in photos[:runs]:
            item = uploads.upload_files([path], "bench-cold", progress=False)[0]
            event = {
                "ce-specversion": "1.0",
                "ce-id": f"cold-{item.product_id}",
                "ce-type": "google.cloud.storage.object.v1.finalized",
                "ce-source": f"//storage.googleapis.com/projects/_/buckets/{item.bucket}",
                "ce-subject": f"objects/{item.name}",
                "content-type": "application/json",
            }
            body = {
                "bucket": item.bucket,
                "name": item.name,
                "generation": item.generation,
                "size": str(path.stat().st_size),
                "contentType": "image/jpeg",
            }
            argv = stack.function_argv(ROOT / "functions/on_upload/main.py", "on_upload", port)
            started = time.perf_counter()
            proc = subprocess.Popen(
                argv,
                env={**os.environ, **cfg.environment()},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                while True:
                    try:
                        r = requests.post(f"http://127.0.0.1:{port}/", json=body, headers=event, timeout=60)
                        break
                    except requests.ConnectionError:
                        time.sleep(0.01)
                elapsed = time.perf_counter() - started
                doc = products.get(item.product_id)
                assert r.ok and doc and doc.get("prediction"), (r.status_code, doc)
                timings.append(elapsed)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    return {
        "runs": len(timings),
        "median_s": round(statistics.median(timings), 2),
        "max_s": round(max(timings), 2),
        "all_s": [round(t, 2) for t in timings],
    }


def _photos_800(count: int, folder: Path) -> list[Path]:
    """Everyday photos of test garments, 800 px square, JPEG quality 85."""
    x, _ = fashion_mnist.load_fashion_mnist("test")
    rng = np.random.default_rng(8)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        scene = sets.photos.render(x[i], rng, sets.photos.STYLES["everyday"], side=800, jpeg=False)
        path = folder / f"photo-{i:04d}.jpg"
        path.write_bytes(sets.encode_jpeg(Image.fromarray(scene.rgb, "RGB"), 85))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--photos", type=int, default=400, help="test photos of each kind")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--port-base", type=int, default=9900)
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "model": {"name": config.CATEGORY_MODEL_NAME, "version": config.category_model_version()},
    }
    print("inference latency ...", flush=True)
    results["inference"] = bench_inference(args.images)
    print("photos: accuracy, auto-accept, classification time ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results["photos"] = bench_photos(args.photos, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = stack.StackConfig.from_env(Path(tmp) / "stack", args.port_base)
        print("starting a stack for the pipeline figures ...", flush=True)
        os.environ.update(stack.up(cfg))
        try:
            photos = _photos(max(args.cold_runs, 50), Path(tmp) / "photos")
            print("on_upload cold start ...", flush=True)
            results["cold_start"] = bench_cold_start(cfg, photos, args.cold_runs)
            print("the cost of an upload: calls, CPU, latency at 10 and 20 a second, a burst ...", flush=True)
            results["upload_cost"] = bench_cost(cfg, _photos_800(300, Path(tmp) / "photos-800"))
            print("the category model in the browser ...", flush=True)
            results["browser"] = bench_browser(cfg, photos[:50])
        finally:
            stack.down(cfg)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
