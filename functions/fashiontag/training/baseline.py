"""``fashiontag train category``: train on Fashion-MNIST, then evaluate and write the card."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fashiontag import config, datasets
from fashiontag.training import report


def run(
    out: Path, epochs: int, seed: int, limit: int | None, version: str | None = None
) -> dict[str, object]:
    from fashiontag.training import category  # imports TensorFlow: only when training

    x, y = datasets.load_fashion_mnist("train")
    category.train(x, y, category.TrainConfig(epochs=epochs, seed=seed, limit=limit), out)
    command = "fashiontag " + shlex.join(sys.argv[1:]) if sys.argv[1:] else f"train --out {out}"
    return report.write_report(out, config.CATEGORY_MODEL_NAME, version or out.name, command)


def main(argv: list[str] | None = None) -> None:
    """Report only, for a model already trained (``--report-only DIR``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--report-only", type=Path, required=True)
    parser.add_argument("--command", required=True, help="the training command to record")
    args = parser.parse_args(argv)
    result = report.write_report(
        args.report_only, config.CATEGORY_MODEL_NAME, args.report_only.name, args.command
    )
    print({k: result[k] for k in ("test_accuracy", "photo_accuracy", "tflite_bytes", "latency_ms_median")})


if __name__ == "__main__":
    main()
