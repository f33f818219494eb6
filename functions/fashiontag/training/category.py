"""Train the garment category model on photos and export it for LiteRT serving.

The model reads the whole photo reduced to 64x64 colour pixels (``images.model_input``) and
has two outputs: the category and a 16x16 map of where the garment is. Training data are
Fashion-MNIST train garments rendered as photos (``fashiontag.renders``: studio shots and
everyday photos on many backdrops, with patterns, tilt, shadows, bad light, blur, noise and
JPEG), the garments as they are, photos with no garment at all, and verified uploads. The mask
teaches the network where the garment ends and the backdrop begins; serving uses it to find
the garment once for the attributes and the colours.

The test split is never read here: validation comes out of the train split, and the test
split is used once, afterwards, by ``fashiontag.training.report``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import images
from fashiontag.renders import pool as render_pool

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import tensorflow as tf
from keras import layers

SIDE = images.MODEL_SIDE
INPUT_SHAPE = (SIDE, SIDE, 3)
MASK_SIDE = render_pool.MASK_SIDE

# The served graph also reads the photo zoomed onto the garment it found, so that the garment
# fills this share of the frame's larger side (training draws 35-85%), unless it already does.
ZOOM_FILL = 0.6


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 9
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    # One epoch is this many examples drawn from the (larger) pool of renders, clean images
    # and verified uploads, so the schedule does not depend on how big the pool is.
    epoch_examples: int = 50_000
    mask_weight: float = 1.0
    seed: int = 20261203
    bn_momentum: float = 0.99


def _conv(x: Any, filters: int, bn_momentum: float, strides: int = 1) -> Any:
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=bn_momentum)(x)
    return layers.ReLU()(x)


def make_model(num_classes: int = 10, bn_momentum: float = 0.99) -> keras.Model:
    """A small CNN on the 64x64 photo with a category head and a garment-mask head.

    A strided first layer brings the photo to 32x32 at once, where one more layer still sees a
    garment filling a third of the frame at about Fashion-MNIST's 28 pixels; the network stays
    at about 25M multiply-adds (under a millisecond on one core, and about 200 photos a second
    to train on two). Scaling to [0, 1] is part of the model, so serving feeds raw 0..255 pixels.
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = _conv(x, 24, bn_momentum, strides=2)  # 32x32
    x = _conv(x, 32, bn_momentum)
    x = layers.MaxPooling2D()(x)  # 16x16
    x = _conv(x, 48, bn_momentum)
    x = _conv(x, 64, bn_momentum)
    mask = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    x = layers.MaxPooling2D()(x)  # 8x8
    x = _conv(x, 128, bn_momentum)
    x = _conv(x, 128, bn_momentum)
    pooled = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    pooled = layers.Dropout(0.3)(pooled)
    category = layers.Dense(num_classes, activation="softmax", name="category")(pooled)
    return keras.Model(inputs, {"category": category, "mask": mask}, name="category_photo_cnn")


@dataclass(frozen=True)
class Examples:
    """What the model trains on: inputs, labels (-1: no garment) and masks (weight 0: unknown)."""

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    mask_known: np.ndarray

    @classmethod
    def of(cls, pool: render_pool.Pool) -> Examples:
        return cls(pool.x, pool.y, pool.mask, np.ones(len(pool.y), dtype=bool))

    @classmethod
    def inputs_only(cls, x: np.ndarray, y: np.ndarray) -> Examples:
        """Examples without a mask (verified uploads): only the category is learned from them."""
        n = len(y)
        return cls(x, y.astype(np.int16), np.zeros((n, MASK_SIDE, MASK_SIDE), np.uint8), np.zeros(n, dtype=bool))

    @classmethod
    def concat(cls, parts: list[Examples]) -> Examples:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("x", "y", "mask", "mask_known")))


def _augment(x: tf.Tensor, targets: dict[str, tf.Tensor], weights: dict[str, tf.Tensor]) -> tuple[Any, ...]:
    """Per-image random changes, on a whole batch at once (per-image calls cost more than the model)."""
    # Mirror images are the same garments.
    n = tf.shape(x)[0]
    flip = tf.random.uniform((n, 1, 1, 1)) < 0.5
    x = tf.where(flip, tf.reverse(x, axis=[2]), x)
    mask = tf.where(flip, tf.reverse(targets["mask"], axis=[2]), targets["mask"])
    # Light and colour vary more than any renderer's: a random colour mix (cast and hue), then
    # saturation, contrast and brightness, each drawn per image.
    mix = tf.eye(3, batch_shape=[n]) + tf.random.normal((n, 3, 3), stddev=0.06)
    x = tf.einsum("bhwc,bdc->bhwd", x, mix)
    grey = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = grey + (x - grey) * tf.random.uniform((n, 1, 1, 1), 0.6, 1.4)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = mean + (x - mean) * tf.random.uniform((n, 1, 1, 1), 0.7, 1.3)
    x = x + tf.random.uniform((n, 1, 1, 1), -30.0, 30.0)
    return tf.clip_by_value(x, 0.0, 255.0), {"category": targets["category"], "mask": mask}, weights


def _dataset(ex: Examples, cfg: TrainConfig, train: bool) -> tf.data.Dataset:
    """Batches drawn by numpy indexing (the pool is gigabytes: too big to embed in a graph)."""
    has_garment = ex.y >= 0
    category = np.where(has_garment, ex.y, 0).astype("int32")
    # The mask loss is per cell, (batch, 16, 16): its weights broadcast over the cells.
    mask_weights = (ex.mask_known.astype("float32") * cfg.mask_weight)[:, None, None]
    category_weights = has_garment.astype("float32")
    rng = np.random.default_rng(cfg.seed)

    def batches() -> Any:
        while True:
            order = rng.permutation(len(ex.y)) if train else np.arange(len(ex.y))
            for start in range(0, len(order), cfg.batch_size):
                idx = np.sort(order[start : start + cfg.batch_size])
                yield (
                    ex.x[idx].astype("float32"),
                    {"category": category[idx], "mask": ex.mask[idx, ..., None].astype("float32") / 255.0},
                    {"category": category_weights[idx], "mask": mask_weights[idx]},
                )
            if not train:
                return

    side = (None, MASK_SIDE, MASK_SIDE)
    signature = (
        tf.TensorSpec((None, *INPUT_SHAPE), tf.float32),
        {"category": tf.TensorSpec((None,), tf.int32), "mask": tf.TensorSpec((*side, 1), tf.float32)},
        {"category": tf.TensorSpec((None,), tf.float32), "mask": tf.TensorSpec((None, 1, 1), tf.float32)},
    )
    ds = tf.data.Dataset.from_generator(batches, output_signature=signature)
    if train:
        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(4)


def fit(
    train: Examples, validation: Examples, cfg: TrainConfig, out: Path, start_from: Path | None = None
) -> dict[str, object]:
    """Train, export model.keras, model.tflite (quantised) and model-float.tflite into ``out``.

    ``start_from`` (a model.keras) continues an earlier run with this run's schedule: a run cut
    short while its learning rate was still high is finished by a short one that anneals it.
    """
    keras.utils.set_random_seed(cfg.seed)
    steps_per_epoch = int(np.ceil(cfg.epoch_examples / cfg.batch_size))
    model = (
        keras.models.load_model(start_from, compile=False) if start_from else make_model(bn_momentum=cfg.bn_momentum)
    )
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, decay_steps=cfg.epochs * steps_per_epoch, warmup_target=None
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss={"category": "sparse_categorical_crossentropy", "mask": "binary_crossentropy"},
        metrics={"category": ["accuracy"]},
    )
    started = time.monotonic()
    history = model.fit(
        _dataset(train, cfg, True),
        validation_data=_dataset(validation, cfg, False),
        epochs=cfg.epochs,
        steps_per_epoch=steps_per_epoch,
        verbose=2 if not os.environ.get("FASHIONTAG_TRAIN_PROGRESS") else 1,
    )
    duration = time.monotonic() - started

    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    export(model, out)
    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    summary = {
        "config": asdict(cfg),
        "started_from": str(start_from) if start_from else None,
        "train_examples": len(train.y),
        "validation_examples": len(validation.y),
        "history": {
            "accuracy": hist.get("category_accuracy", []),
            "val_accuracy": hist.get("val_category_accuracy", []),
            "loss": hist.get("loss", []),
            "val_loss": hist.get("val_loss", []),
        },
        "validation_accuracy": hist.get("val_category_accuracy", [0.0])[-1],
        "train_seconds": round(duration, 1),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def zoom_to_garment(image: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """The images (b, side, side, 3) resampled onto the box of their garment maps (b, m, m, 1).

    The box holds every cell of at least 0.5 (``inference.GARMENT_PIXEL``), widened about its
    centre so the garment fills ``ZOOM_FILL`` of the larger side (the photo's squash kept), and
    moved inside the frame; no such cell, or a box as large as the frame: the image as it is.
    Bilinear sampling by two matrices, so LiteRT needs only its built-in operators.
    """
    side, cells = image.shape[1], mask.shape[1]
    on = tf.cast(mask[..., 0] >= 0.5, tf.float32)  # (b, m, m)
    rows, cols = tf.reduce_max(on, axis=2), tf.reduce_max(on, axis=1)  # (b, m)
    found = tf.reduce_max(rows, axis=1) > 0  # (b,)

    def extent(line: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        first = tf.cast(tf.argmax(line, axis=1), tf.float32)
        last = cells - 1 - tf.cast(tf.argmax(tf.reverse(line, axis=[1]), axis=1), tf.float32)
        return first * side / cells, (last + 1) * side / cells

    top, bottom = extent(rows)
    left, right = extent(cols)
    scale = tf.maximum((bottom - top) / ZOOM_FILL, (right - left) / ZOOM_FILL) / side
    scale = tf.where(found, tf.clip_by_value(scale, 0.3, 1.0), tf.ones_like(scale))
    extent_px = scale * side  # (b,) the crop's side, in pixels of the image

    def start(low: tf.Tensor, high: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value((low + high - extent_px) / 2, 0.0, side - extent_px)

    ys = _sampling(start(top, bottom), extent_px, side)  # (b, side, side)
    xs = _sampling(start(left, right), extent_px, side)
    # out[b, i, j, c] = sum_k,l ys[b, i, k] image[b, k, l, c] xs[b, j, l]
    channels_first = tf.transpose(image, [0, 3, 1, 2])  # (b, 3, side, side)
    rows_done = tf.matmul(ys[:, None], channels_first)
    both = tf.matmul(rows_done, xs[:, None], transpose_b=True)
    return tf.transpose(both, [0, 2, 3, 1])


class _GarmentZoom(layers.Layer):
    def call(self, image: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        return zoom_to_garment(image, mask)


def _sampling(start: tf.Tensor, extent: tf.Tensor, side: int) -> tf.Tensor:
    """(b, side, side) weights: output pixel i samples start + (i + 0.5) * extent / side - 0.5
    of the input bilinearly, clamped at the edges."""
    centres = tf.range(side, dtype=tf.float32) + 0.5
    position = start[:, None] + centres[None, :] * (extent / side)[:, None] - 0.5  # (b, side)
    position = tf.clip_by_value(position, 0.0, side - 1.0)
    pixels = tf.range(side, dtype=tf.float32)
    return tf.nn.relu(1.0 - tf.abs(position[:, :, None] - pixels[None, None, :]))


class _Mirror(layers.Layer):
    def call(self, image: tf.Tensor) -> tf.Tensor:
        return tf.reverse(image, axis=[2])


def served_model(model: keras.Model) -> keras.Model:
    """The graph serving runs: the trained network on four views of the photo, the class
    probabilities averaged; the garment map is that of the photo as it is.

    The views are the photo, its mirror image, and both zoomed onto the garment the first look
    found (``zoom_to_garment``): a small garment on a busy backdrop is read again at the scale
    training drew most (upsampled from the 64x64 input: no new detail, but a framing the network
    knows). All of it is in the model file, so the browser runs the same four looks.
    """
    image = keras.Input(shape=INPUT_SHAPE, name="image")
    first = model(image)
    zoomed = _GarmentZoom()(image, first["mask"])
    looks = [first["category"]] + [model(view)["category"] for view in (_Mirror()(image), zoomed, _Mirror()(zoomed))]
    category = layers.Average(name="category")(looks)
    return keras.Model(image, {"category": category, "mask": first["mask"]}, name=model.name)


def export(model: keras.Model, out: Path) -> None:
    """The served model (quantised) and its float twin, for the report's comparison."""
    served = served_model(model)
    (out / "model.tflite").write_bytes(to_tflite(served, quantize=True))
    (out / "model-float.tflite").write_bytes(to_tflite(served, quantize=False))


def to_tflite(model: keras.Model, quantize: bool) -> bytes:
    """Convert for LiteRT with the batch pinned to 1 (browsers' LiteRT cannot resize inputs);
    ``quantize`` applies dynamic-range (int8 weight) quantisation."""
    image = keras.Input(shape=INPUT_SHAPE, batch_size=1, name="image")
    pinned = keras.Model(image, model(image), name=model.name)
    converter = tf.lite.TFLiteConverter.from_keras_model(pinned)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return bytes(converter.convert())


# Photos of this many training garments, held out of training, fit the temperature and choose
# the auto-accept threshold.
CALIBRATION_GARMENTS = 3000


def build_examples(
    garments: np.ndarray,
    labels: np.ndarray,
    seed: int,
    cache_dir: Path | None = None,
    extra: list[Examples] | None = None,
    rounds: int = 1,
) -> tuple[Examples, render_pool.Pool]:
    """(training examples, calibration photos) from train-split garments and ``extra`` examples.

    Each training garment is seen as two everyday photos, one studio photo and as it is; one
    photo in 25 shows no garment. Calibration garments are set apart first and rendered in every
    kind, unseen families included, so the threshold is chosen on photos like those it guards.
    ``rounds`` > 1 renders the same training garments again with other seeds (other backdrops,
    poses, light, patterns) for that many times the photos; the split and the calibration
    photos stay those of round one.
    """
    order = np.random.default_rng(seed).permutation(len(garments))
    n_held = min(CALIBRATION_GARMENTS, len(garments) // 5)
    held, kept = np.sort(order[:n_held]), np.sort(order[n_held:])
    gx, gy = garments[kept], labels[kept]

    def photos(first: int) -> list[Examples]:
        return [
            Examples.of(render_pool.render_pool(gx, gy, "everyday", first, empty_every=25, cache_dir=cache_dir)),
            Examples.of(render_pool.render_pool(gx, gy, "everyday", first + 1, empty_every=25, cache_dir=cache_dir)),
            Examples.of(render_pool.render_pool(gx, gy, "studio", first + 2, cache_dir=cache_dir)),
        ]

    parts = [*photos(seed + 1), Examples.of(render_pool.clean_pool(gx, gy)), *(extra or [])]
    for n in range(1, rounds):
        parts += photos(seed + 1000 * n)
    sets = render_pool.photo_sets(garments[held], labels[held], n_held, seed + 4, cache_dir)
    clean = render_pool.clean_pool(garments[held][: n_held // 3], labels[held][: n_held // 3])
    calibration = render_pool.concat([*sets.values(), clean])
    return Examples.concat(parts), calibration
