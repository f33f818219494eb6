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


class AttributeModel:
    """The attribute heads of one category: one LiteRT file, one concatenated output."""

    def __init__(self, model_dir: Path) -> None:
        meta = json.loads((model_dir / "model.json").read_text())
        self.name: str = meta["name"]
        self.version: str = meta["version"]
        self.category: str = meta["category"]
        self.size: int = int(meta["input"]["size"])
        self.families: list[dict[str, Any]] = meta["families"]
        self._interpreter = Interpreter(model_path=str(model_dir / "model.tflite"), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._lock = threading.Lock()

    def predict(self, crop: np.ndarray) -> dict[str, dict[str, Any]]:
        """{family: {label, confidence, top}} for a (size, size, 3) uint8 garment crop."""
        batch = crop.astype(np.float32).reshape(self._input["shape"])
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            output = np.array(self._interpreter.get_tensor(self._output["index"])[0])
        result, start = {}, 0
        for family in self.families:
            values = family["values"]
            probs = apply_temperature(output[start : start + len(values)], family["temperature"])
            start += len(values)
            order = np.argsort(probs)[::-1][:TOP_K]
            top = [Scored(values[i], float(probs[i])) for i in order]
            result[family["id"]] = {
                "label": top[0].label,
                "confidence": round(top[0].confidence, 4),
                "top": [s.as_dict() for s in top],
            }
        return result


UNTRAINED = {"status": "untrained"}


def attributes_for(category: str, photo_rgb: np.ndarray, model: AttributeModel | None) -> dict[str, dict[str, Any]]:
    """Every family the taxonomy declares for ``category``: a prediction, or ``untrained``."""
    from fashiontag import images

    declared = [f.id for f in taxonomy.load().category(category).families]
    predicted = model.predict(images.garment_crop(photo_rgb, model.size)) if model else {}
    return {family: predicted.get(family, UNTRAINED) for family in declared}


_shipped_attributes: dict[str, AttributeModel | None] = {}


def shipped_attribute_dir(category: str) -> Path | None:
    """The newest attribute model shipped in ``models/attributes-{category}/``, if any."""
    folder = config.models_root() / config.attribute_model_name(category)
    metas = sorted(folder.glob("*/model.json")) if folder.is_dir() else []
    return metas[-1].parent if metas else None


def shipped_attribute_model(category: str) -> AttributeModel | None:
    """The shipped attribute model of ``category`` (``shipped_attribute_dir``), loaded once."""
    with _models_lock:
        if category not in _shipped_attributes:
            model_dir = shipped_attribute_dir(category)
            _shipped_attributes[category] = AttributeModel(model_dir) if model_dir else None
        return _shipped_attributes[category]
