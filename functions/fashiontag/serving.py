"""Which model version serves: the registry's active one, picked up without a redeploy.

Each instance keeps the loaded models and looks at the registry's pointer at most every
``FASHIONTAG_MODEL_REFRESH_SECONDS``; when it changed, it downloads the new version once and
swaps it in. With no registry entry (a fresh project) the version shipped in ``models/``
serves; an attribute model with neither serves nothing (every family says ``untrained``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from fashiontag import config, registry
from fashiontag.inference import AttributeModel, CategoryModel, get_category_model, shipped_attribute_model

log = logging.getLogger(__name__)
M = TypeVar("M", CategoryModel, AttributeModel)


class ActiveModel(Generic[M]):
    def __init__(self, name: str, load: Callable[[Path], M], shipped: Callable[[], M | None]) -> None:
        self.name = name
        self._load: Callable[[Path], M] = load
        self._shipped: Callable[[], M | None] = shipped
        self._model: M | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> M | None:
        with self._lock:
            if time.monotonic() - self._checked_at >= config.model_refresh_seconds():
                self._refresh()
            return self._model

    def _refresh(self) -> None:
        try:
            version = registry.active_version(self.name)
            if version is None:
                self._model = self._shipped()
            elif self._model is None or self._model.version != version:
                self._model = self._load(registry.fetch(self.name, version))
                log.info("serving %s %s from the registry", self.name, version)
        except Exception:
            if self._model is None and self._checked_at == float("-inf"):
                raise  # nothing to serve with yet: let the event be retried
            log.warning("registry unreachable; keeping %s as it was", self.name, exc_info=True)
        self._checked_at = time.monotonic()

    def version(self, version: str) -> M:
        """A named version (classify on demand)."""
        return self._load(registry.fetch(self.name, version))


class _Models:
    def __init__(self) -> None:
        self.category: ActiveModel[CategoryModel] = ActiveModel(
            config.CATEGORY_MODEL_NAME, CategoryModel.from_dir, get_category_model
        )
        self.attributes: dict[str, ActiveModel[AttributeModel]] = {}
        self.lock = threading.Lock()


_models = _Models()


def category_model() -> CategoryModel:
    model = _models.category.get()
    assert model is not None  # the shipped baseline always exists
    return model


def category_version(version: str) -> CategoryModel:
    return _models.category.version(version)


def attribute_model(category: str) -> AttributeModel | None:
    with _models.lock:
        if category not in _models.attributes:
            _models.attributes[category] = ActiveModel(
                config.attribute_model_name(category), AttributeModel, lambda: shipped_attribute_model(category)
            )
        active = _models.attributes[category]
    return active.get()
