"""Evaluate a trained category model as it is served (LiteRT) and write its report and card.

Calibration and the auto-accept threshold come from photos of validation garments (train split);
the figures come from the Fashion-MNIST test split, read here once per model after training:
the images as they are, and the same garments rendered as studio photos, everyday photos on
the backdrops training used, and everyday photos on backdrops and prints it never saw.
"""

from __future__ import annotations

import functools
import itertools
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import calibration, evaluation, fashion_mnist, images, taxonomy
from fashiontag.inference import CategoryModel
from fashiontag.renders import pool as render_pool

PHOTO_SEED = 7
PHOTO_COUNT = 1000
# Auto-accepted answers must be at least this precise on held-out photos (DESIGN.md section 5).
TARGET_PRECISION = evaluation.TARGET_PRECISION


def _latency_ms(model: CategoryModel, x: np.ndarray, n: int = 2000) -> float:
    for img in x[:50]:
        model.probabilities(img)
    timings = []
    for img in x[:n]:
        started = time.perf_counter()
        model.probabilities(img)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def plot_confusion(matrix: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            value = matrix[i, j]
            color = "white" if value > matrix.max() / 2 else "black"
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7, color=color)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(probs: dict[str, np.ndarray], labels: dict[str, np.ndarray], path: Path, title: str) -> None:
    """Accuracy against confidence, in equal-width bins, one line per kind of photo."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    edges = np.linspace(0, 1, 11)
    for kind, p in probs.items():
        conf, right = p.max(axis=1), p.argmax(axis=1) == labels[kind]
        centres, accs = [], []
        for low, high in itertools.pairwise(edges):
            inside = (conf > low) & (conf <= high)
            if inside.sum() >= 5:
                centres.append(float(conf[inside].mean()))
                accs.append(float(right[inside].mean()))
        ax.plot(centres, accs, marker="o", label=kind)
    ax.set_xlabel("confidence (calibrated)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(history: dict[str, list[float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, axis in (("accuracy", left), ("loss", right)):
        axis.plot(history.get(key, []), label=f"train {key}")
        axis.plot(history.get(f"val_{key}", []), label=f"validation {key}")
        axis.set_xlabel("epoch")
        axis.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_meta(
    model_dir: Path, name: str, version: str, labels: list[str], temperature: float, threshold: float
) -> None:
    meta = {
        "name": name,
        "version": version,
        "labels": labels,
        "input": {"shape": [images.MODEL_SIDE, images.MODEL_SIDE, 3], "dtype": "float32", "range": [0, 255]},
        "preprocessing": "decode, orient by EXIF, flatten alpha onto white, resize the whole photo to "
        f"{images.MODEL_SIDE}x{images.MODEL_SIDE} by area averaging (fashiontag.images.model_input)",
        "temperature": round(temperature, 4),
        "auto_accept_threshold": round(threshold, 4),
    }
    (model_dir / "model.json").write_text(json.dumps(meta, indent=2) + "\n")


def _by(values: np.ndarray, correct: np.ndarray) -> dict[str, dict[str, float]]:
    return {
        str(v): {"count": int((values == v).sum()), "accuracy": float(correct[values == v].mean())}
        for v in sorted(set(values.tolist()))
    }


def write_report(
    model_dir: Path,
    name: str,
    version: str,
    command: str,
    validation: render_pool.Pool,
    dataset: dict[str, Any],
    photo_count: int = PHOTO_COUNT,
) -> dict[str, Any]:
    """Calibrate on ``validation`` photos, evaluate as served, write model.json, report.json and the card."""
    labels = taxonomy.load().labels
    training = json.loads((model_dir / "training.json").read_text())
    _write_meta(model_dir, name, version, labels, 1.0, 1.0)
    raw_model = CategoryModel.from_dir(model_dir)
    has_garment = validation.y >= 0
    x_val, y_val = validation.x[has_garment], validation.y[has_garment].astype(int)
    temperature = calibration.fit_temperature(evaluation.predict_all(raw_model, x_val), y_val)
    val_probs = calibration.apply_temperature(evaluation.predict_all(raw_model, x_val, calibrated=False), temperature)
    photos_only = validation.pattern[has_garment] != "clean"
    threshold, val_precision, val_coverage = calibration.choose_threshold(
        val_probs[photos_only], y_val[photos_only], TARGET_PRECISION
    )
    _write_meta(model_dir, name, version, labels, temperature, threshold)
    served = CategoryModel.from_dir(model_dir)

    x_test, y_test = fashion_mnist.load_fashion_mnist("test")
    clean_x = np.stack([images.clean_input(g) for g in x_test])
    test = evaluation.metrics(evaluation.predict_all(served, clean_x), y_test, labels, threshold)
    photo_sets = render_pool.photo_sets(x_test, y_test, photo_count, PHOTO_SEED)
    photos: dict[str, Any] = {}
    probs: dict[str, np.ndarray] = {}
    truths: dict[str, np.ndarray] = {}
    for kind, pool in photo_sets.items():
        probs[kind] = evaluation.predict_all(served, pool.x)
        truths[kind] = pool.y.astype(int)
        m = evaluation.metrics(probs[kind], truths[kind], labels, threshold)
        photos[kind] = {k: m[k] for k in ("count", "accuracy", "per_class_accuracy", "ece", "auto_accept")}
        photos[kind]["confusion_matrix"] = m["confusion_matrix"]
        raw = evaluation.predict_all(served, pool.x, calibrated=False)
        photos[kind]["ece_uncalibrated"] = calibration.expected_calibration_error(raw, truths[kind])
    everyday = render_pool.concat([photo_sets["everyday"], photo_sets["unseen"]])
    everyday_right = np.concatenate([probs["everyday"], probs["unseen"]]).argmax(axis=1) == everyday.y
    all_probs = np.concatenate(list(probs.values()))
    all_truth = np.concatenate(list(truths.values()))
    precision, coverage = calibration.precision_at(all_probs, all_truth, threshold)
    plot_confusion(
        np.array(photos["unseen"]["confusion_matrix"]),
        labels,
        model_dir / "confusion.png",
        f"{name} {version}: unseen backdrops (test garments)",
    )
    plot_reliability(probs, truths, model_dir / "reliability.png", f"{name} {version}: photos of test garments")
    plot_curves(training["history"], model_dir / "curves.png", f"{name} {version}: training")

    x_frozen, y_frozen = frozen_photo_eval()
    frozen = evaluation.evaluate(served, x_frozen, y_frozen)
    float_path = model_dir / "model-float.tflite"
    float_accuracy = None
    if float_path.is_file():
        float_model = CategoryModel.from_dir(model_dir, file_name=float_path.name)
        float_accuracy = float((evaluation.predict_all(float_model, clean_x).argmax(axis=1) == y_test).mean())

    report = {
        "model": {"name": name, "version": version},
        "test_accuracy": test["accuracy"],
        "test_accuracy_float": float_accuracy,
        "per_class_accuracy": test["per_class_accuracy"],
        "confusion_matrix": test["confusion_matrix"],
        "photos": photos,
        "photo_accuracy": {
            "count": photos["unseen"]["count"],
            "accuracy": photos["unseen"]["accuracy"],
            "seed": PHOTO_SEED,
        },
        "per_backdrop": _by(everyday.backdrop, everyday_right),
        "per_pattern": _by(everyday.pattern, everyday_right),
        "calibration": {
            "temperature": temperature,
            "fitted_on": f"{len(y_val)} validation images (train split): clean, studio, everyday and unseen photos",
            "photo_ece_after": {k: photos[k]["ece"] for k in photos},
            "photo_ece_before": {k: photos[k]["ece_uncalibrated"] for k in photos},
        },
        "auto_accept": {
            "threshold": threshold,
            "target_precision": TARGET_PRECISION,
            "validation_precision": val_precision,
            "validation_coverage": val_coverage,
            "precision": precision,
            "coverage": coverage,
        },
        "frozen_eval": {
            k: frozen[k]
            for k in (
                "count",
                "accuracy",
                "per_class_accuracy",
                "per_class_count",
                "per_class_f1",
                "ece",
                "auto_accept",
            )
        },
        "tflite_bytes": (model_dir / "model.tflite").stat().st_size,
        "latency_ms_median": round(_latency_ms(served, clean_x), 4),
        "validation_accuracy": training["validation_accuracy"],
        "train_examples": training["train_examples"],
        "validation_examples": training["validation_examples"],
        "dataset": dataset,
        "train_seconds": training["train_seconds"],
        "seed": training["config"]["seed"],
        "epochs": training["config"]["epochs"],
        "command": command,
        "machine": f"{platform.machine()}, {platform.python_version()}, tensorflow {training['tensorflow']}",
        "test_split_note": "test split read once, after training; calibration and threshold on train-split photos",
    }
    (model_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (model_dir / "model_card.md").write_text(model_card(report, labels))
    return report


# The frozen evaluation set of the promotion gate: the frozen train-split garments as they are
# and as photos (studio, and everyday on unseen backdrops), rendered the same way every time.
FROZEN_PHOTO_SEED = 11
FROZEN_PHOTO_COUNT = 1000


@functools.cache
def frozen_photo_eval(count: int = FROZEN_PHOTO_COUNT) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and labels every version is compared on (never trained on, never the test split);
    rendered once per process: the candidate and the active version read the same arrays."""
    x, y = fashion_mnist.frozen_eval()
    sets = render_pool.photo_sets(x, y, count, FROZEN_PHOTO_SEED)
    clean = np.stack([images.clean_input(g) for g in x[:count]])
    inputs = np.concatenate([clean, sets["studio"].x, sets["unseen"].x])
    return inputs, np.concatenate([y[:count], sets["studio"].y, sets["unseen"].y]).astype(int)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _table(rows: dict[str, dict[str, float]], what: str) -> str:
    lines = [f"| {what} | photos | accuracy |", "|---|---|---|"]
    held_out = set(render_pool.photos.HELD_OUT_BACKDROPS) | set(render_pool.photos.HELD_OUT_PATTERNS)
    for name, r in rows.items():
        mark = " (never trained on)" if name in held_out else ""
        lines.append(f"| {name}{mark} | {r['count']} | {r['accuracy']:.1%} |")
    return "\n".join(lines)


def model_card(r: dict[str, Any], labels: list[str]) -> str:
    p, aa = r["photos"], r["auto_accept"]
    rows = "\n".join(
        f"| {label} | {r['per_class_accuracy'][label]:.1%} | {p['studio']['per_class_accuracy'][label]:.1%} "
        f"| {p['unseen']['per_class_accuracy'][label]:.1%} |"
        for label in labels
    )
    kinds = "\n".join(
        f"| {kind} | {p[kind]['count']} | **{p[kind]['accuracy']:.2%}** | {_pct(p[kind]['auto_accept']['precision'])} "
        f"| {p[kind]['auto_accept']['coverage']:.1%} | {p[kind]['ece_uncalibrated']:.4f} -> {p[kind]['ece']:.4f} |"
        for kind in p
    )
    float_line = f" (float twin {r['test_accuracy_float']:.2%})" if r["test_accuracy_float"] is not None else ""
    clean_count = sum(map(sum, r["confusion_matrix"]))
    return f"""# Model card: {r["model"]["name"]} {r["model"]["version"]}

Garment category from one photo, the ten Fashion-MNIST classes of `models/taxonomy.yaml`, and
a 16x16 map of where the garment is (used for the attribute crop and the colours). A small CNN
(`fashiontag.training.category.make_model`) reads the whole photo reduced to
{images.MODEL_SIDE}x{images.MODEL_SIDE} colour pixels: serving and the browser only decode,
orient and resize (`fashiontag.images.model_input`); finding the garment on its backdrop is
learned. Served as a dynamic-range quantised `.tflite` under LiteRT; the served file runs the
network on four looks at each photo (as it is, mirrored, zoomed onto the garment its map
found, and that zoom mirrored) and averages them (`served_model`, docs/decisions/0020); every
figure below is the served file's.

## Figures (Fashion-MNIST test garments, read once after training)

| photos | count | accuracy | auto-accepted precision | auto-accepted share | calibration error (before -> after) |
|---|---|---|---|---|---|
| clean Fashion-MNIST test split | {clean_count} | **{r["test_accuracy"]:.2%}**{float_line} | - | - | - |
{kinds}

- *studio*: a light plain or gradient backdrop, plain garment, catalogue framing.
- *everyday*: bed sheets with folds, wood, tiles, woven fabric, concrete, dark cloth, carpet,
  checked cloth; striped, checked, denim and printed garments; 35-85% of the frame, off-centre,
  tilted up to 15 degrees, shadows, a stray object at an edge in 30%, uneven light, vignetting,
  colour casts, exposure 0.55-1.15, blur, noise, JPEG 45-90. The backdrop and print families
  training used, on garments it never saw.
- *unseen*: the same photography on backdrops (marble, brick, floral print) and prints (dots,
  chevrons) that **training never drew**: the figure that says how the model meets surfaces
  it does not know.

Auto-accept threshold **{aa["threshold"]:.4f}** (stored in `model.json`, read by serving): the lowest
confidence at which auto-accepted photos of validation garments were at least
{aa["target_precision"]:.0%} precise by the lower end of a 95% interval
({_pct(aa["validation_precision"])} on {aa["validation_coverage"]:.1%} of them). On the test photos above,
all kinds together: precision **{_pct(aa["precision"])}** on {aa["coverage"]:.1%}.
Temperature {r["calibration"]["temperature"]:.3f}, fitted on {r["calibration"]["fitted_on"]}.

- Frozen evaluation set (what the promotion gate compares versions on: {r["frozen_eval"]["count"]}
  images of train-split garments no version trains on, clean, studio and unseen-backdrop photos):
  {r["frozen_eval"]["accuracy"]:.2%}
- File size: {r["tflite_bytes"] / 1024:.0f} KiB (`model.tflite`); one inference, LiteRT, 1 thread:
  {r["latency_ms_median"]:.3f} ms (median of 2,000)
- Training: {r["epochs"]} epochs, {r["train_examples"]} examples, seed {r["seed"]},
  {r["train_seconds"] / 60:.1f} min on {r["machine"]}

| class | clean test | studio photos | unseen backdrops |
|---|---|---|---|
{rows}

### Everyday photos (seen and unseen families) by backdrop and by garment pattern

{_table(r["per_backdrop"], "backdrop")}

{_table(r["per_pattern"], "pattern")}

![reliability on photos](reliability.png)

![confusion matrix, unseen backdrops](confusion.png)

![training curves](curves.png)

Data: {json.dumps(r["dataset"])}

## How it was made

```
{r["command"]}
```

Training renders Fashion-MNIST train garments (never the test split, never the frozen
evaluation garments) as studio and everyday photos with `fashiontag.renders` (the everyday
families listed above; marble, brick, floral, dots and chevrons are never drawn for training),
plus the garments as they are, photos with no garment (mask empty, no category) and verified
uploads. Augmentation adds mirror images, hue, saturation, brightness and contrast changes.

## Limits

- Every photo here is rendered: a renderer, however varied, is not a camera. The unseen-family
  figure is the honest one; photos from other renderers or cameras may score lower, and the
  verified uploads that retraining adds are what closes that gap.
- One garment per photo, lying flat or hanging; a worn garment, several garments, or a garment
  much smaller than a third of the frame are out of scope and tend to go to review.
- Shirt, T-shirt/top, pullover and coat are confused most: those answers go to review more often.
"""
