"""Evaluate a trained category model as it is served (LiteRT) and write its report and card.

This is the one place the Fashion-MNIST test split is read, once per model, after training.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import calibration, datasets, evaluation, images, samples, taxonomy
from fashiontag.inference import CategoryModel

PHOTO_SEED = 7
PHOTO_COUNT = 1000


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


def photo_accuracy(model: CategoryModel, x: np.ndarray, y: np.ndarray, count: int = PHOTO_COUNT) -> dict[str, Any]:
    """Accuracy on test garments rendered as product photos, through the serving normalisation."""
    rng = np.random.default_rng(PHOTO_SEED)
    chosen = rng.choice(len(x), size=min(count, len(x)), replace=False)
    correct = 0
    for index in chosen:
        photo = samples.render_photo(x[index], rng)
        rgb = np.asarray(photo)
        pred = int(np.argmax(model.probabilities(images.normalise(rgb))))
        correct += int(pred == y[index])
    return {"count": len(chosen), "accuracy": correct / len(chosen), "seed": PHOTO_SEED}


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


def _write_meta(model_dir: Path, name: str, version: str, labels: list[str], temperature: float) -> None:
    meta = {
        "name": name,
        "version": version,
        "labels": labels,
        "input": {"shape": [28, 28, 1], "dtype": "float32", "range": [0, 255]},
        "temperature": round(temperature, 4),
    }
    (model_dir / "model.json").write_text(json.dumps(meta, indent=2) + "\n")


def write_report(
    model_dir: Path,
    name: str,
    version: str,
    command: str,
    validation: tuple[np.ndarray, np.ndarray],
    dataset: dict[str, Any],
    photo_count: int = PHOTO_COUNT,
) -> dict[str, Any]:
    """Calibrate on ``validation``, evaluate as served, write model.json, report.json and the card."""
    labels = taxonomy.load().labels
    training = json.loads((model_dir / "training.json").read_text())
    _write_meta(model_dir, name, version, labels, 1.0)
    raw_model = CategoryModel.from_dir(model_dir)
    x_val, y_val = validation
    temperature = calibration.fit_temperature(evaluation.predict_all(raw_model, x_val), y_val)
    _write_meta(model_dir, name, version, labels, temperature)
    served = CategoryModel.from_dir(model_dir)

    x_test, y_test = datasets.load_fashion_mnist("test")
    test = evaluation.metrics(evaluation.predict_all(served, x_test), y_test, labels)
    test_uncalibrated_ece = calibration.expected_calibration_error(evaluation.predict_all(raw_model, x_test), y_test)
    x_frozen, y_frozen = datasets.frozen_eval()
    frozen = evaluation.evaluate(served, x_frozen, y_frozen)
    plot_confusion(
        np.array(test["confusion_matrix"]),
        labels,
        model_dir / "confusion.png",
        f"{name} {version}: test split",
    )
    plot_curves(training["history"], model_dir / "curves.png", f"{name} {version}: training")

    float_path = model_dir / "model-float.tflite"
    float_accuracy = None
    if float_path.is_file():
        float_model = CategoryModel(model_dir, labels, name, version, file_name=float_path.name)
        float_accuracy = float((evaluation.predict_all(float_model, x_test).argmax(axis=1) == y_test).mean())

    report = {
        "model": {"name": name, "version": version},
        "test_accuracy": test["accuracy"],
        "test_accuracy_float": float_accuracy,
        "per_class_accuracy": test["per_class_accuracy"],
        "confusion_matrix": test["confusion_matrix"],
        "calibration": {
            "temperature": temperature,
            "test_ece_before": test_uncalibrated_ece,
            "test_ece_after": test["ece"],
        },
        "auto_accept": test["auto_accept"],
        "frozen_eval": {
            k: frozen[k] for k in ("count", "accuracy", "per_class_accuracy", "per_class_count", "per_class_f1", "ece")
        },
        "photo_accuracy": photo_accuracy(served, x_test, y_test, photo_count),
        "tflite_bytes": (model_dir / "model.tflite").stat().st_size,
        "latency_ms_median": round(_latency_ms(served, x_test), 4),
        "validation_accuracy": training["validation_accuracy"],
        "train_examples": training["train_examples"],
        "validation_examples": training["validation_examples"],
        "dataset": dataset,
        "train_seconds": training["train_seconds"],
        "seed": training["config"]["seed"],
        "epochs": training["config"]["epochs"],
        "command": command,
        "machine": f"{platform.machine()}, {platform.python_version()}, tensorflow {training['tensorflow']}",
        "test_split_note": "test split read once, after training; validation held out from train",
    }
    (model_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (model_dir / "model_card.md").write_text(model_card(report, labels))
    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def model_card(r: dict[str, Any], labels: list[str]) -> str:
    rows = "\n".join(f"| {label} | {r['per_class_accuracy'][label]:.1%} |" for label in labels)
    float_line = (
        f"- Float (unquantised) LiteRT model, same test split: {r['test_accuracy_float']:.2%}\n"
        if r["test_accuracy_float"] is not None
        else ""
    )
    return f"""# Model card: {r["model"]["name"]} {r["model"]["version"]}

Garment category from one photo, the ten Fashion-MNIST classes of `models/taxonomy.yaml`.
A small VGG-style CNN (`fashiontag.training.category.make_model`) trained on the Fashion-MNIST
train split, served as a dynamic-range quantised `.tflite` under LiteRT.

## Figures (Fashion-MNIST test split, 10,000 images, read once after training)

- Test accuracy (served, quantised model): **{r["test_accuracy"]:.2%}**
{float_line}- Accuracy on {r["photo_accuracy"]["count"]} test garments rendered as product photos (colour,
  plain or gradient backdrops, 300-800 px, JPEG) and passed through `fashiontag.images.normalise`:
  **{r["photo_accuracy"]["accuracy"]:.2%}** (render seed {r["photo_accuracy"]["seed"]})
- Calibration: temperature {r["calibration"]["temperature"]:.3f} fitted on the validation split;
  expected calibration error on the test split {r["calibration"]["test_ece_before"]:.4f} before,
  **{r["calibration"]["test_ece_after"]:.4f}** after
- Auto-accept at confidence >= {r["auto_accept"]["threshold"]}: precision
  {_pct(r["auto_accept"]["precision"])} on {r["auto_accept"]["coverage"]:.1%} of the test images
  (the rest go to review)
- Frozen evaluation set (the {r["frozen_eval"]["count"]} train-split images no version trains on; the
  promotion gate compares versions on it): {r["frozen_eval"]["accuracy"]:.2%}
- Validation accuracy at the last epoch: {r["validation_accuracy"]:.2%}
- File size: {r["tflite_bytes"] / 1024:.0f} KiB (`model.tflite`)
- Latency, one image, LiteRT on 1 thread: {r["latency_ms_median"]:.3f} ms (median of 2,000)
- Training: {r["epochs"]} epochs, {r["train_examples"]} training images, seed {r["seed"]},
  {r["train_seconds"] / 60:.1f} min on {r["machine"]}

| class | test accuracy |
|---|---|
{rows}

![confusion matrix](confusion.png)

![training curves](curves.png)

Data: {json.dumps(r["dataset"])}

## How it was made

```
{r["command"]}
```

Validation is a seeded hold-out of the train split; augmentation: horizontal flips and
shifts of up to 2 px. No tuning used the test split.

## Limits

- Fashion-MNIST is grey 28x28 studio product images; real photos are brought to that form by
  `fashiontag.images.normalise`, which needs a garment that stands out from a plain or smoothly
  changing background. Busy backgrounds, several garments, or a worn garment are out of scope.
- Shirt, T-shirt/top, pullover and coat are confused most (see the matrix): low-confidence
  predictions go to review instead of being accepted.
"""
