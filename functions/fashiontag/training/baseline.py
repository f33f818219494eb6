"""``fashiontag train category``: train on Fashion-MNIST, then evaluate and write the card."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from fashiontag import config, datasets
from fashiontag.training import report


def _validation(limit: int | None, seed: int) -> tuple[Any, Any]:
    """The hold-out ``category.train`` uses; with no limit it is the frozen evaluation set."""
    x, y = datasets.load_fashion_mnist("train")
    if limit:
        x, y = x[:limit], y[:limit]
    _, val_idx = datasets.train_validation_split(len(x), min(5000, len(x) // 10), seed)
    return x[val_idx], y[val_idx]


def _dataset(limit: int | None) -> dict[str, Any]:
    return {"fashion_mnist_train": limit or 60000, "verified_products": 0, "synthetic": 0}


def run(out: Path, epochs: int | None, seed: int, limit: int | None, version: str | None = None) -> dict[str, object]:
    from fashiontag.training import category  # imports TensorFlow: only when training

    x, y = datasets.load_fashion_mnist("train")
    cfg = category.TrainConfig(epochs=epochs or category.TrainConfig.epochs, seed=seed, limit=limit)
    category.train(x, y, cfg, out)
    command = "fashiontag " + shlex.join(sys.argv[1:]) if sys.argv[1:] else f"train --out {out}"
    return report.write_report(
        out,
        config.CATEGORY_MODEL_NAME,
        version or out.name,
        command,
        _validation(limit, seed),
        _dataset(limit),
    )


def main(argv: list[str] | None = None) -> None:
    """Report only, for a model already trained (``--report-only DIR``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--report-only", type=Path, required=True)
    parser.add_argument("--command", required=True, help="the training command to record")
    parser.add_argument("--seed", type=int, default=datasets.FROZEN_EVAL_SEED)
    args = parser.parse_args(argv)
    result = report.write_report(
        args.report_only,
        config.CATEGORY_MODEL_NAME,
        args.report_only.name,
        args.command,
        _validation(None, args.seed),
        _dataset(None),
    )
    print({k: result[k] for k in ("test_accuracy", "photo_accuracy", "tflite_bytes", "latency_ms_median")})


if __name__ == "__main__":
    main()
