"""``fashiontag train category``: render, train, calibrate, evaluate and write the card."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import config, fashion_mnist
from fashiontag.renders import pool as render_pool
from fashiontag.training import report

CACHE_DIR = Path(".fashiontag/cache")


def _dataset(limit: int | None) -> dict[str, Any]:
    return {"fashion_mnist_train": limit or 60000, "verified_products": 0, "synthetic": 0}


def run(
    out: Path,
    epochs: int | None,
    seed: int,
    limit: int | None,
    version: str | None = None,
    start_from: Path | None = None,
    learning_rate: float | None = None,
    rounds: int = 1,
) -> dict[str, object]:
    from fashiontag.training import category  # imports TensorFlow: only when training

    x, y = fashion_mnist.load_fashion_mnist("train")
    trainable, _ = fashion_mnist.frozen_split(len(x))
    idx = trainable[:limit] if limit else trainable
    train, calibration = category.build_examples(x[idx], y[idx], seed, CACHE_DIR, rounds=rounds)
    cfg = category.TrainConfig(
        epochs=epochs or category.TrainConfig.epochs,
        seed=seed,
        learning_rate=learning_rate or category.TrainConfig.learning_rate,
    )
    if limit:  # quick runs: one pass over the examples per epoch, faster batch-norm averages
        cfg = category.TrainConfig(epochs=cfg.epochs, seed=seed, epoch_examples=len(train.y), bn_momentum=0.9)
    monitor = calibration_subset(calibration)
    category.fit(train, category.Examples.of(monitor), cfg, out, start_from)
    command = "fashiontag " + shlex.join(sys.argv[1:]) if sys.argv[1:] else f"train category --out {out}"
    return report.write_report(
        out, config.CATEGORY_MODEL_NAME, version or out.name, command, calibration, _dataset(limit)
    )


def calibration_subset(calibration: render_pool.Pool, count: int = 2000) -> render_pool.Pool:
    """Validation photos watched during training: a seeded sample of the calibration set."""
    chosen = np.sort(np.random.default_rng(0).choice(len(calibration.y), min(count, len(calibration.y)), replace=False))
    return render_pool.Pool(*(getattr(calibration, f)[chosen] for f in ("x", "mask", "y", "backdrop", "pattern")))


def main(argv: list[str] | None = None) -> None:
    """Report only, for a model already trained (``--report-only DIR``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--report-only", type=Path, required=True)
    parser.add_argument("--command", required=True, help="the training command to record")
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args(argv)
    from fashiontag.training import category

    x, y = fashion_mnist.load_fashion_mnist("train")
    trainable, _ = fashion_mnist.frozen_split(len(x))
    _, calibration = category.build_examples(x[trainable], y[trainable], args.seed, CACHE_DIR)
    result = report.write_report(
        args.report_only, config.CATEGORY_MODEL_NAME, args.report_only.name, args.command, calibration, _dataset(None)
    )
    print({k: result[k] for k in ("test_accuracy", "photo_accuracy", "tflite_bytes", "latency_ms_median")})


if __name__ == "__main__":
    main()
