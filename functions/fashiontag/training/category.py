"""Train the garment category model on Fashion-MNIST and export it for LiteRT serving.

The test split is never read here: validation comes out of the train split, and the test
split is used once, afterwards, by ``fashiontag.training.report``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fashiontag import datasets

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import tensorflow as tf
from keras import layers

INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    validation: int = 5000
    seed: int = 20261130
    limit: int | None = None  # train on the first N training images only (tests, quick runs)
    # Batch-norm statistics average over ~1/(1-momentum) steps: short runs need a faster average
    # or they are evaluated with statistics that never settled.
    bn_momentum: float = 0.99


def make_model(num_classes: int = 10, bn_momentum: float = 0.99) -> keras.Model:
    """A small VGG-style CNN: about 0.2M weights, under 0.3 MB once quantised.

    Scaling to [0, 1] is part of the model so serving feeds raw 0..255 pixels.
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = layers.Rescaling(1.0 / 255)(inputs)
    for filters in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=bn_momentum)(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(128, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=bn_momentum)(x)
    x = layers.ReLU()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="category")(x)
    return keras.Model(inputs, outputs, name="category_cnn")


def _augment(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    # Photos come in either orientation and are never perfectly centred.
    image = tf.image.random_flip_left_right(image)
    padded = tf.pad(image, [[2, 2], [2, 2], [0, 0]])
    image = tf.image.random_crop(padded, INPUT_SHAPE)
    return image, label


def _dataset(x: np.ndarray, y: np.ndarray, batch: int, seed: int, train: bool) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((x[..., None].astype("float32"), y.astype("int32")))
    if train:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch).prefetch(tf.data.AUTOTUNE)


def train(images: np.ndarray, labels: np.ndarray, cfg: TrainConfig, out: Path) -> dict[str, object]:
    """Train on ``images``/``labels`` (a train split) with a seeded validation hold-out."""
    if cfg.limit:
        images, labels = images[: cfg.limit], labels[: cfg.limit]
    validation = min(cfg.validation, len(images) // 10)
    train_idx, val_idx = datasets.train_validation_split(len(images), validation, cfg.seed)
    return fit(images[train_idx], labels[train_idx], images[val_idx], labels[val_idx], cfg, out)


def fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    cfg: TrainConfig,
    out: Path,
) -> dict[str, object]:
    """Train, export model.keras, model.tflite (quantised) and model-float.tflite into ``out``."""
    keras.utils.set_random_seed(cfg.seed)
    train_ds = _dataset(x_train, y_train, cfg.batch_size, cfg.seed, True)
    val_ds = _dataset(x_val, y_val, cfg.batch_size, cfg.seed, False)

    model = make_model(bn_momentum=cfg.bn_momentum)
    steps = cfg.epochs * int(np.ceil(len(x_train) / cfg.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    started = time.monotonic()
    history = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, verbose=2)
    duration = time.monotonic() - started

    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    export(model, out)
    summary = {
        "config": asdict(cfg),
        "train_examples": len(x_train),
        "validation_examples": len(x_val),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "validation_accuracy": float(history.history["val_accuracy"][-1]),
        "train_seconds": round(duration, 1),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def export(model: keras.Model, out: Path) -> None:
    """The served model (quantised) and its float twin, for the report's comparison."""
    (out / "model.tflite").write_bytes(to_tflite(model, quantize=True))
    (out / "model-float.tflite").write_bytes(to_tflite(model, quantize=False))


def to_tflite(model: keras.Model, quantize: bool) -> bytes:
    """Convert for LiteRT; ``quantize`` applies dynamic-range (int8 weight) quantisation."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return bytes(converter.convert())


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    images, labels = datasets.load_fashion_mnist("train")
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, limit=args.limit)
    summary = train(images, labels, cfg, args.out)
    print(json.dumps({k: summary[k] for k in ("validation_accuracy", "train_seconds")}))


if __name__ == "__main__":
    main()
