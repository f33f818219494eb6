"""Attribute models: one per category that has attribute families, one head per family.

Examples may be partly labelled (a manager may correct only the fit): a missing label is -1
and its head's loss is masked out for that example, so partial labels still count. A family
with fewer than ``min_labels`` labelled examples gets no head: serving then says ``untrained``
for it instead of guessing. The served file has one output, the heads' probabilities
concatenated in the order of ``model.json``'s ``families``, so no output order is guessed.
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import calibration, config, fashion_mnist, images, synthetic, taxonomy

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import tensorflow as tf
from keras import layers

INPUT_SIZE = 64
# Evaluation renders draw from random streams keyed [seed, n, 1]; training renders from
# [seed, n]. The keys never coincide, so no training run, whatever its seed, sees them.
_EVALUATION_STREAM = 1
EVALUATION_SEED = 20261201


@dataclass(frozen=True)
class AttributeTrainConfig:
    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 2e-3
    synthetic: int = 6000
    min_labels: int = 200
    seed: int = 20261130
    verified: bool = False  # add the verified products of the category (needs Firestore and Storage)


def make_model(families: dict[str, int]) -> keras.Model:
    """A small CNN on the 64x64 colour crop with a softmax head per family."""
    inputs = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), name="crop")
    x = layers.Rescaling(1.0 / 255)(inputs)
    for filters in (32, 48, 64, 96):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(128, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = {name: layers.Dense(n, activation="softmax", name=name)(x) for name, n in families.items()}
    return keras.Model(inputs, outputs, name="attributes")


# Share of training renders on the renderer's own plain or gradient backdrop; the rest lie on
# the surfaces of ``renders.photos.TRAIN_BACKDROPS``.
_PLAIN_SHARE = 0.25


def synthetic_trousers(
    count: int, seed: int, evaluation: bool = False, surfaces: tuple[str, ...] | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rendered trousers through JPEG and the serving crop: inputs and per-family label indices.

    They lie on a plain backdrop or one of ``surfaces`` (default: the training families).
    """
    from fashiontag.renders import photos

    surfaces = surfaces or photos.TRAIN_BACKDROPS
    families = synthetic.TROUSER_FAMILIES
    decoded = []
    y = {f: np.zeros(count, dtype=np.int32) for f in families}
    for n in range(count):
        key = [seed, n, _EVALUATION_STREAM] if evaluation else [seed, n]
        rng = np.random.default_rng(key)
        labels = synthetic.sample_labels(rng)
        pick = np.random.default_rng([*key, 7])
        surface = None
        if pick.random() >= _PLAIN_SHARE:
            family = photos.BACKDROPS[str(pick.choice(surfaces))]
            surface = lambda h, w, family=family, pick=pick: family(h, w, pick)  # noqa: E731
        buf = io.BytesIO()
        synthetic.render_trouser(labels, rng, surface).save(buf, "JPEG", quality=int(rng.integers(60, 95)))
        decoded.append(images.decode(buf.getvalue(), config.limits()).rgb)
        for family_id, values in families.items():
            y[family_id][n] = values.index(labels[family_id])
    from fashiontag.training import data

    return data.garment_crops(decoded, INPUT_SIZE), y


def evaluation_set(category: str, renders: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
    """What attribute versions are compared on: renders no version trains on and the verified
    products held out from training (``data.in_attribute_eval``); crops, labels, counts."""
    from fashiontag.training import data

    declared = {f.id: f.values for f in taxonomy.load().category(category).families}
    if category == synthetic.CATEGORY:
        x, y = synthetic_trousers(renders, EVALUATION_SEED, evaluation=True)
    else:
        x, y = _empty(declared)
    x_v, y_v, ids = data.verified_attribute_examples(category, INPUT_SIZE, evaluation=True)
    labels = {f: np.concatenate([y.get(f, np.full(len(x), -1)), y_v[f]]).astype(np.int32) for f in declared}
    return np.concatenate([x, x_v]), labels, {"synthetic": len(x), "verified_products": len(ids)}


def _empty(declared: dict[str, tuple[str, ...]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    return np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8), {f: np.zeros(0, dtype=np.int32) for f in declared}


def train(category: str, cfg: AttributeTrainConfig, out: Path, command: str | None = None) -> dict[str, Any]:
    """Train the attribute model of ``category`` (synthetic trousers today) and export it.

    Verified products held out for evaluation (``data.in_attribute_eval``) are never used.
    """
    keras.utils.set_random_seed(cfg.seed)
    declared = {f.id: f.values for f in taxonomy.load().category(category).families}
    if category != synthetic.CATEGORY and not cfg.verified:
        raise SystemExit(f"no synthetic data for {category}: train it with --data verified")
    started = time.monotonic()
    x, y = synthetic_trousers(cfg.synthetic, cfg.seed) if cfg.synthetic else _empty(declared)
    render_s = time.monotonic() - started
    verified_ids: list[str] = []
    if cfg.verified:
        from fashiontag.training import data

        x_v, y_v, verified_ids = data.verified_attribute_examples(category, INPUT_SIZE)
        x = np.concatenate([x, x_v])
        y = {f: np.concatenate([y.get(f, np.full(len(x) - len(x_v), -1)), y_v[f]]) for f in declared}
    # A family needs min_labels labelled examples for a head; below that it says "untrained".
    trained = {f: len(v) for f, v in declared.items() if (y.get(f, np.array([])) >= 0).sum() >= cfg.min_labels}
    if not trained:
        raise SystemExit(f"no family of {category} has {cfg.min_labels} labels yet: all stay untrained")
    untrained = sorted(set(declared) - set(trained))

    train_idx, test_idx = fashion_mnist.train_validation_split(len(x), len(x) // 5, cfg.seed)
    fit_idx, val_idx = train_idx[: -len(x) // 10], train_idx[-len(x) // 10 :]

    def targets(idx: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        labels = {f: np.maximum(y[f][idx], 0) for f in trained}
        weights = {f: (y[f][idx] >= 0).astype("float32") for f in trained}  # the mask of partial labels
        return labels, weights

    model = make_model(trained)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss={f: "sparse_categorical_crossentropy" for f in trained},
        metrics={f: ["accuracy"] for f in trained},
    )
    fit_y, fit_w = targets(fit_idx)
    val_y, val_w = targets(val_idx)
    history = model.fit(
        x[fit_idx],
        fit_y,
        sample_weight=fit_w,
        validation_data=(x[val_idx], val_y, val_w),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        verbose=2,
    )
    train_s = time.monotonic() - started - render_s

    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    order = list(trained)
    served = keras.Model(model.inputs, layers.Concatenate(name="probabilities")([model.output[f] for f in order]))
    converter = tf.lite.TFLiteConverter.from_keras_model(served)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    (out / "model.tflite").write_bytes(bytes(converter.convert()))

    val_pred = model.predict(x[val_idx], verbose=0)
    temperatures = {f: calibration.fit_temperature(val_pred[f], y[f][val_idx]) for f in order}
    test_pred = model.predict(x[test_idx], verbose=0)
    report_families = {}
    for f in order:
        probs = calibration.apply_temperature(test_pred[f], temperatures[f])
        truth = y[f][test_idx]
        report_families[f] = {
            "accuracy": float((probs.argmax(axis=1) == truth).mean()),
            "ece_before": calibration.expected_calibration_error(test_pred[f], truth),
            "ece_after": calibration.expected_calibration_error(probs, truth),
            "per_value_accuracy": {
                v: float((probs.argmax(axis=1)[truth == i] == i).mean()) for i, v in enumerate(declared[f])
            },
            "confusion_matrix": _confusion(truth, probs.argmax(axis=1), len(declared[f])).tolist(),
        }
    unseen = _unseen_backdrops(model, order, cfg) if category == synthetic.CATEGORY else {}
    meta = {
        "name": config.attribute_model_name(category),
        "version": out.name,
        "category": category,
        "input": {"size": INPUT_SIZE, "colour": True, "dtype": "float32", "range": [0, 255]},
        "families": [{"id": f, "values": list(declared[f]), "temperature": round(temperatures[f], 4)} for f in order],
        "untrained": untrained,
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    report = {
        "model": {"name": meta["name"], "version": out.name},
        "data": {
            "synthetic": cfg.synthetic,
            "verified_products": len(verified_ids),
            "source": "fashiontag.synthetic procedural trouser renderer"
            + (" + verified products" if verified_ids else ""),
            "examples": len(x),
            "train": len(fit_idx),
            "validation": len(val_idx),
            "held_out_test": len(test_idx),
        },
        "families": report_families,
        "unseen_backdrops": unseen,
        "untrained": untrained,
        "config": asdict(cfg),
        "render_seconds": round(render_s, 1),
        "train_seconds": round(train_s, 1),
        "tflite_bytes": (out / "model.tflite").stat().st_size,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    _plot(report_families, declared, out / "confusion.png")
    command = command or f"fashiontag train {meta['name']} --out {out}"
    (out / "model_card.md").write_text(_card(report, meta, command))
    return report


UNSEEN_RENDERS = 600


def _unseen_backdrops(model: keras.Model, order: list[str], cfg: AttributeTrainConfig) -> dict[str, Any]:
    """Per-family accuracy on evaluation renders lying on backdrops training never drew."""
    from fashiontag.renders import photos

    x, y = synthetic_trousers(UNSEEN_RENDERS, cfg.seed + 1, evaluation=True, surfaces=photos.HELD_OUT_BACKDROPS)
    pred = model.predict(x, verbose=0)
    return {
        "backdrops": list(photos.HELD_OUT_BACKDROPS),
        "count": len(x),
        "accuracy": {f: float((pred[f].argmax(axis=1) == y[f]).mean()) for f in order},
    }


def _confusion(truth: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (truth, pred), 1)
    return matrix


def _plot(families: dict[str, Any], declared: dict[str, tuple[str, ...]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 8))
    for ax, (family, result) in zip(axes.flat, families.items(), strict=False):
        matrix = np.array(result["confusion_matrix"])
        ax.imshow(matrix, cmap="Blues")
        values = declared[family]
        ax.set_xticks(range(len(values)), values, rotation=40, ha="right", fontsize=7)
        ax.set_yticks(range(len(values)), values, fontsize=7)
        ax.set_title(f"{family}: {result['accuracy']:.1%}")
        for i in range(len(values)):
            for j in range(len(values)):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7)
    fig.suptitle("Trouser attributes, held-out SYNTHETIC test renders (true rows, predicted columns)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _card(report: dict[str, Any], meta: dict[str, Any], command: str) -> str:
    unseen = report["unseen_backdrops"].get("accuracy", {})
    rows = "\n".join(
        f"| {f} | {r['accuracy']:.1%} | {unseen[f]:.1%} | {r['ece_before']:.3f} -> {r['ece_after']:.3f} |"
        if f in unseen
        else f"| {f} | {r['accuracy']:.1%} | - | {r['ece_before']:.3f} -> {r['ece_after']:.3f} |"
        for f, r in report["families"].items()
    )
    temps = ", ".join(f"{f['id']} {f['temperature']:.2f}" for f in meta["families"])
    return f"""# Model card: {meta["name"]} {meta["version"]}

**Trained on SYNTHETIC data only.** No public garment-attribute data set reaches this machine,
so these figures come from `fashiontag.synthetic`, a procedural renderer of trousers whose fit,
rise, fade, distress, wash and length are known. They measure how well the model reads those
renders, not real photos; verified manager labels replace them as they accumulate.

Input: the garment cropped in colour from the photo where the category model's garment map
puts it (`fashiontag.images.crop_box`), {INPUT_SIZE}x{INPUT_SIZE} RGB. Training renders lie on a
plain backdrop (a quarter) or on the everyday surfaces of `fashiontag.renders` (bed sheets,
wood, tiles, woven fabric, concrete, dark cloth, carpet, checked cloth). One softmax head per
family; masked losses for partial labels.

| family | accuracy (held-out synthetic) | on unseen backdrops | calibration error before -> after |
|---|---|---|---|
{rows}

"Unseen backdrops": {report["unseen_backdrops"].get("count", 0)} evaluation renders lying on
{", ".join(report["unseen_backdrops"].get("backdrops", []))}, surfaces training never drew
(three in four renders; the rest plain).

- Examples: {report["data"]["examples"]} renders ({report["data"]["train"]} train,
  {report["data"]["validation"]} validation for early checks and temperatures, {report["data"]["held_out_test"]} test)
- Temperatures: {temps}
- Untrained families (predict nothing, say `untrained`): {", ".join(report["untrained"]) or "none"}
- File size {report["tflite_bytes"] / 1024:.0f} KiB; rendering {report["render_seconds"]:.0f} s,
  training {report["train_seconds"]:.0f} s ({report["config"]["epochs"]} epochs, seed {report["config"]["seed"]})

![confusion matrices](confusion.png)

Command: `{command}`
"""
