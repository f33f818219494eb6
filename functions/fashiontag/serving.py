"""Which model version serves: the registry's active one, picked up without a redeploy.

Each instance keeps the loaded model and looks at the registry's pointer at most every
``FASHIONTAG_MODEL_REFRESH_SECONDS``; when it changed, it downloads the new version once and
swaps it in. With no registry entry (a fresh project) the baseline shipped in ``models/`` serves.
"""

from __future__ import annotations

import logging
import threading
import time

from fashiontag import config, registry
from fashiontag.inference import CategoryModel, get_category_model

log = logging.getLogger(__name__)


class ActiveCategoryModel:
    def __init__(self, name: str = config.CATEGORY_MODEL_NAME) -> None:
        self.name = name
        self._model: CategoryModel | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> CategoryModel:
        with self._lock:
            if self._model is None or time.monotonic() - self._checked_at >= config.model_refresh_seconds():
                self._refresh()
            assert self._model is not None
            return self._model

    def _refresh(self) -> None:
        try:
            version = registry.active_version(self.name)
            if version is None:
                self._model = get_category_model()  # no registry entry: the baseline shipped with the code
            elif self._model is None or self._model.version != version:
                self._model = CategoryModel.from_dir(registry.fetch(self.name, version))
                log.info("serving %s %s from the registry", self.name, version)
        except Exception:
            if self._model is None:
                raise  # nothing to serve with: let the event be retried
            log.warning("registry unreachable; keeping %s %s", self.name, self._model.version, exc_info=True)
        self._checked_at = time.monotonic()

    def version(self, version: str) -> CategoryModel:
        """A named version (classify on demand), cached like the active one."""
        return get_category_model(registry.fetch(self.name, version))


_active: ActiveCategoryModel | None = None
_active_lock = threading.Lock()


def active_category_model() -> ActiveCategoryModel:
    global _active
    with _active_lock:
        if _active is None:
            _active = ActiveCategoryModel()
        return _active
