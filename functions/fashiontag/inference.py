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

from fashiontag import config, contract, taxonomy
from fashiontag.calibration import apply_temperature

TOP_K = 3


@dataclass(frozen=True)
class Scored:
    label: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class Garment:
    """Where the category model saw the garment: a coverage map of the photo, 0..1.

    The map covers the whole photo (squashed to a square, as the model saw it); ``found`` says
    whether anything in it is garment enough to describe.
    """

    mask: np.ndarray  # float32 (side, side)
    found: bool

    def box(self, height: int, width: int) -> tuple[int, int, int, int] | None:
        """(top, bottom, left, right) in pixels of an (height, width) photo, or None."""
        on = self.mask >= GARMENT_PIXEL
        if not self.found or not on.any():
            return None
        rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
        side_y, side_x = height / self.mask.shape[0], width / self.mask.shape[1]
        return (
            int(rows[0] * side_y),
            min(height, int(np.ceil((rows[-1] + 1) * side_y))),
            int(cols[0] * side_x),
            min(width, int(np.ceil((cols[-1] + 1) * side_x))),
        )


# A mask cell at or above this is garment; a photo needs this much garment (share of the frame),
# and one cell the model is sure of, for its answer to be about a garment at all: a shadow or a
# fold of a sheet makes a few lukewarm cells, a garment many and some near 1.
GARMENT_PIXEL = 0.5
GARMENT_MIN_SHARE = 0.02
GARMENT_PEAK = 0.8


@dataclass(frozen=True)
class CategoryPrediction:
    label: str
    confidence: float
    top: tuple[Scored, ...]
    model_name: str
    model_version: str
    latency_ms: float
    threshold: float
    garment: Garment

    @property
    def status(self) -> str:
        """``auto_accepted`` or ``needs_review``, by the contract's rule and this version's threshold."""
        return contract.status_for(self.confidence, self.threshold, self.garment.found)

    @property
    def auto_accepted(self) -> bool:
        return self.status == contract.AUTO_ACCEPTED

    def review_reason(self) -> dict[str, str] | None:
        """Why a manager must look at this prediction, in words a manager understands."""
        if not self.garment.found:
            return {
                "code": "no_garment_found",
                "message": "No garment could be found in this photo: it may be empty, or the garment blends "
                "into the background. Check the photo before setting a category.",
            }
        if self.confidence < self.threshold:
            return {
                "code": "low_confidence",
                "message": f"The model is unsure ({self.confidence:.0%} for {self.label}; this version accepts "
                f"answers on its own from {self.threshold:.0%}). Check the category.",
            }
        return None

    def category_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "top": [s.as_dict() for s in self.top],
        }

    def model_dict(self) -> dict[str, str]:
        return {"name": self.model_name, "version": self.model_version}


class CategoryModel:
    """A category model version: the photo in (``images.model_input``), category and garment out."""

    def __init__(
        self,
        model_dir: Path,
        labels: list[str],
        name: str,
        version: str,
        file_name: str = "model.tflite",
        temperature: float = 1.0,
        threshold: float | None = None,
    ) -> None:
        self._interpreter = Interpreter(model_path=str(model_dir / file_name), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        outputs = self._interpreter.get_output_details()
        self._output = next(o for o in outputs if o["shape"][-1] == len(labels) and len(o["shape"]) == 2)
        masks = [o for o in outputs if len(o["shape"]) == 4]
        self._mask = masks[0] if masks else None
        self._lock = threading.Lock()
        self.labels = labels
        self.name = name
        self.version = version
        self.temperature = temperature
        self.threshold = config.auto_accept_threshold() if threshold is None else threshold
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])

    @classmethod
    def from_dir(cls, model_dir: Path, file_name: str = "model.tflite") -> CategoryModel:
        meta = json.loads((model_dir / "model.json").read_text())
        labels = meta["labels"]
        if labels != taxonomy.load().labels:
            raise ValueError(f"{model_dir}: labels differ from models/taxonomy.yaml")
        return cls(
            model_dir,
            labels,
            meta["name"],
            meta["version"],
            file_name=file_name,
            temperature=meta.get("temperature", 1.0),
            threshold=meta.get("auto_accept_threshold"),
        )

    def _run(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        batch = image.astype(np.float32).reshape(self._input["shape"])
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            probs = np.array(self._interpreter.get_tensor(self._output["index"])[0])
            mask = np.array(self._interpreter.get_tensor(self._mask["index"])[0, ..., 0]) if self._mask else None
        return probs, mask

    def raw_probabilities(self, image: np.ndarray) -> np.ndarray:
        """The network's softmax for one model input (``images.model_input``), before calibration."""
        return self._run(image)[0]

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        return raw if self.temperature == 1.0 else apply_temperature(raw, self.temperature)

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (the version's temperature applied)."""
        return self._calibrated(self.raw_probabilities(image))

    def predict(self, image: np.ndarray) -> CategoryPrediction:
        started = time.perf_counter()
        raw, mask = self._run(image)
        probs = self._calibrated(raw)
        order = np.argsort(probs)[::-1][:TOP_K]
        top = tuple(Scored(self.labels[i], float(probs[i])) for i in order)
        if mask is None:  # a model without a garment map finds its garment by other means
            mask = np.ones((1, 1), dtype=np.float32)
        found = bool((mask >= GARMENT_PIXEL).mean() >= GARMENT_MIN_SHARE and mask.max() >= GARMENT_PEAK)
        return CategoryPrediction(
            label=top[0].label,
            confidence=top[0].confidence,
            top=top,
            model_name=self.name,
            model_version=self.version,
            latency_ms=(time.perf_counter() - started) * 1000,
            threshold=self.threshold,
            garment=Garment(mask.astype(np.float32), found),
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


def attributes_for(
    category: str, photo_rgb: np.ndarray, garment: Garment, model: AttributeModel | None
) -> dict[str, dict[str, Any]]:
    """Every family the taxonomy declares for ``category``: a prediction, or ``untrained``."""
    from fashiontag import images

    declared = [f.id for f in taxonomy.load().category(category).families]
    box = garment.box(*photo_rgb.shape[:2])
    predicted = model.predict(images.crop_box(photo_rgb, box, model.size)) if model else {}
    return {family: predicted.get(family, UNTRAINED) for family in declared}


_shipped_attributes: dict[str, AttributeModel | None] = {}


def shipped_attribute_dir(category: str) -> Path | None:
    """The newest attribute model shipped in ``models/attributes-{category}/``, if any."""
    folder = config.models_root() / config.attribute_model_name(category)
    metas = (
        sorted(folder.glob("*/model.json"), key=lambda m: contract.version_key(m.parent.name))
        if folder.is_dir()
        else []
    )
    return metas[-1].parent if metas else None


def shipped_attribute_model(category: str) -> AttributeModel | None:
    """The shipped attribute model of ``category`` (``shipped_attribute_dir``), loaded once."""
    with _models_lock:
        if category not in _shipped_attributes:
            model_dir = shipped_attribute_dir(category)
            _shipped_attributes[category] = AttributeModel(model_dir) if model_dir else None
        return _shipped_attributes[category]
