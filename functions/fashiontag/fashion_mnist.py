"""Fashion-MNIST, the bootstrap data set, read from the Debian package's idx files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Literal

import numpy as np

from fashiontag import config

Split = Literal["train", "test"]
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class DatasetMissing(FileNotFoundError):
    pass


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(split: Split, root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of one split."""
    root = root or config.fashion_mnist_dir()
    images_name, labels_name = _FILES[split]
    if not (root / images_name).is_file():
        raise DatasetMissing(
            f"Fashion-MNIST not found under {root}; install the Debian package dataset-fashion-mnist (make deps does)"
        )
    return _read_idx(root / images_name), _read_idx(root / labels_name)


def train_validation_split(n: int, validation: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic indices (train, validation) into the train split."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[validation:]), np.sort(order[:validation])


# The frozen evaluation set: these Fashion-MNIST *train* images are held out of every training
# run (the baseline's validation split), so candidate and active versions are compared on data
# neither has seen. The test split stays untouched for the final report of each model.
FROZEN_EVAL_SEED = 20261130
FROZEN_EVAL_SIZE = 5000


def frozen_split(n: int = 60000) -> tuple[np.ndarray, np.ndarray]:
    """(trainable indices, frozen evaluation indices) of the Fashion-MNIST train split."""
    return train_validation_split(n, FROZEN_EVAL_SIZE, FROZEN_EVAL_SEED)


def frozen_eval() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_fashion_mnist("train")
    _, held_out = frozen_split(len(x))
    return x[held_out], y[held_out]
