"""Category prediction with LiteRT. Serving code: never imports TensorFlow.

A ``CategoryModel`` is loaded once per function instance (see ``get_category_model``) and
reused for every event; the interpreter is not thread-safe, so calls are serialised.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from fashiontag import config, taxonomy
from fashiontag.calibration import apply_temperature

TOP_K = 3


@dataclass(frozen=True)
class Scored:
    label: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class CategoryPrediction:
    label: str
    confidence: float
    top: tuple[Scored, ...]
    model_name: str
    model_version: str
    latency_ms: float

    def category_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "top": [s.as_dict() for s in self.top],
        }

    def model_dict(self) -> dict[str, str]:
        return {"name": self.model_name, "version": self.model_version}


class CategoryModel:
    def __init__(
        self,
        model_dir: Path,
        labels: list[str],
        name: str,
        version: str,
        file_name: str = "model.tflite",
        temperature: float = 1.0,
    ) -> None:
        self._interpreter = Interpreter(model_path=str(model_dir / file_name), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._lock = threading.Lock()
        self.labels = labels
        self.name = name
        self.version = version
        self.temperature = temperature

    @classmethod
    def from_dir(cls, model_dir: Path) -> CategoryModel:
        meta = json.loads((model_dir / "model.json").read_text())
        labels = meta["labels"]
        if labels != taxonomy.load().labels:
            raise ValueError(f"{model_dir}: labels differ from models/taxonomy.yaml")
        return cls(model_dir, labels, meta["name"], meta["version"], temperature=meta.get("temperature", 1.0))

    def raw_probabilities(self, image: np.ndarray) -> np.ndarray:
        """The network's softmax for one normalised 28x28 uint8 image, before calibration."""
        batch = image.astype(np.float32).reshape(self._input["shape"])
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output["index"])[0])

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (the version's temperature applied)."""
        raw = self.raw_probabilities(image)
        return raw if self.temperature == 1.0 else apply_temperature(raw, self.temperature)

    def predict(self, image: np.ndarray) -> CategoryPrediction:
        started = time.perf_counter()
        probs = self.probabilities(image)
        order = np.argsort(probs)[::-1][:TOP_K]
        top = tuple(Scored(self.labels[i], float(probs[i])) for i in order)
        return CategoryPrediction(
            label=top[0].label,
            confidence=top[0].confidence,
            top=top,
            model_name=self.name,
            model_version=self.version,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


_models: dict[Path, CategoryModel] = {}
_models_lock = threading.Lock()


def get_category_model(model_dir: Path | None = None) -> CategoryModel:
    """The instance-wide model for ``model_dir`` (default: the configured version), loaded once."""
    model_dir = model_dir or config.category_model_dir()
    with _models_lock:
        if model_dir not in _models:
            _models[model_dir] = CategoryModel.from_dir(model_dir)
        return _models[model_dir]
