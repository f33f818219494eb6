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

from fashiontag import datasets, images, samples, taxonomy
from fashiontag.inference import CategoryModel

PHOTO_SEED = 7
PHOTO_COUNT = 1000


def _predict_all(model: CategoryModel, x: np.ndarray) -> np.ndarray:
    return np.array([int(np.argmax(model.probabilities(img))) for img in x])


def _latency_ms(model: CategoryModel, x: np.ndarray, n: int = 2000) -> float:
    for img in x[:50]:
        model.probabilities(img)
    timings = []
    for img in x[:n]:
        started = time.perf_counter()
        model.probabilities(img)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


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


def photo_accuracy(model: CategoryModel, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Accuracy on test garments rendered as product photos, through the serving normalisation."""
    rng = np.random.default_rng(PHOTO_SEED)
    chosen = rng.choice(len(x), size=min(PHOTO_COUNT, len(x)), replace=False)
    correct = 0
    for index in chosen:
        photo = samples.render_photo(x[index], rng)
        rgb = np.asarray(photo)
        pred = int(np.argmax(model.probabilities(images.normalise(rgb))))
        correct += int(pred == y[index])
    return {"count": len(chosen), "accuracy": correct / len(chosen), "seed": PHOTO_SEED}


def write_report(model_dir: Path, name: str, version: str, command: str) -> dict[str, Any]:
    labels = taxonomy.load().labels
    (model_dir / "model.json").write_text(
        json.dumps(
            {
                "name": name,
                "version": version,
                "labels": labels,
                "input": {"shape": [28, 28, 1], "dtype": "float32", "range": [0, 255]},
            },
            indent=2,
        )
        + "\n"
    )
    training = json.loads((model_dir / "training.json").read_text())
    x_test, y_test = datasets.load_fashion_mnist("test")
    served = CategoryModel.from_dir(model_dir)
    pred = _predict_all(served, x_test)
    matrix = confusion(y_test, pred, len(labels))
    per_class = {labels[i]: float(matrix[i, i] / matrix[i].sum()) for i in range(len(labels))}
    plot_confusion(matrix, labels, model_dir / "confusion.png", f"{name} {version}: test split")

    float_path = model_dir / "model-float.tflite"
    float_accuracy = None
    if float_path.is_file():
        float_model = CategoryModel(model_dir, labels, name, version, file_name=float_path.name)
        float_accuracy = float((_predict_all(float_model, x_test) == y_test).mean())

    report = {
        "model": {"name": name, "version": version},
        "test_accuracy": float((pred == y_test).mean()),
        "test_accuracy_float": float_accuracy,
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.tolist(),
        "photo_accuracy": photo_accuracy(served, x_test, y_test),
        "tflite_bytes": (model_dir / "model.tflite").stat().st_size,
        "latency_ms_median": round(_latency_ms(served, x_test), 4),
        "validation_accuracy": training["validation_accuracy"],
        "train_examples": training["train_examples"],
        "validation_examples": training["validation_examples"],
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
- Validation accuracy (5,000 images held out of the train split): {r["validation_accuracy"]:.2%}
- File size: {r["tflite_bytes"] / 1024:.0f} KiB (`model.tflite`)
- Latency, one image, LiteRT on 1 thread: {r["latency_ms_median"]:.3f} ms (median of 2,000)
- Training: {r["epochs"]} epochs, {r["train_examples"]} training images, seed {r["seed"]},
  {r["train_seconds"] / 60:.1f} min on {r["machine"]}

| class | test accuracy |
|---|---|
{rows}

![confusion matrix](confusion.png)

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
