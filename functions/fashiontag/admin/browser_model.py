"""What a browser needs to classify a photo itself: the LiteRT.js runtime and a model version.

The seller's page runs the active category version in the browser for an instant preview
(``static/classify.js``); the server's prediction stays the record. The admin function hands
files over and never loads a model itself.

- The runtime is npm ``@litertjs/core`` (pinned in package-lock.json), served by us, never
  from a CDN: from ``node_modules`` in the repository, from ``vendor/`` in the admin bundle
  (scripts/package_function.py copies ``RUNTIME_FILES`` there). Its address carries the
  package's version, so browsers keep it for good.
- A version's ``model.tflite`` comes from the model bucket at an address carrying the
  object's generation: a version deleted and registered again under the same name gets a
  new address, so that one is cacheable for good too (privately: it needs a signed-in caller).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc

from fashiontag import clients, config, registry
from fashiontag.admin.errors import NotFound
from fashiontag.contract import MANAGER

# Public name -> (path under the npm scope folder @litertjs, content type). Only the
# single-threaded builds: threads need cross-origin isolation, JSPI an origin trial; the
# compat build serves browsers without relaxed SIMD.
RUNTIME_FILES: dict[str, tuple[str, str]] = {
    "litert.js": ("core/dist/index.js", "text/javascript"),
    "wasm-utils.js": ("wasm-utils/dist/index.js", "text/javascript"),
    "litert_wasm_internal.js": ("core/wasm/litert_wasm_internal.js", "text/javascript"),
    "litert_wasm_internal.wasm": ("core/wasm/litert_wasm_internal.wasm", "application/wasm"),
    "litert_wasm_compat_internal.js": ("core/wasm/litert_wasm_compat_internal.js", "text/javascript"),
    "litert_wasm_compat_internal.wasm": ("core/wasm/litert_wasm_compat_internal.wasm", "application/wasm"),
}
RUNTIME_MODULE = "litert.js"  # the one a page imports
RUNTIME_PACKAGE = "core/package.json"  # its version names the runtime's address
# litert.js imports its helper by package name, which a browser resolves only through an
# import map, and an import map is an inline script the page's policy forbids.
_BARE_IMPORT = (b'from "@litertjs/wasm-utils"', b'from "./wasm-utils.js"')
NPM_DIR = Path("node_modules") / "@litertjs"  # in the repository (npm ci)
BUNDLE_DIR = Path("vendor") / "@litertjs"  # in a bundle, next to fashiontag/
_HERE = Path(__file__).resolve()
_SCOPE_DIRS = (_HERE.parents[2] / BUNDLE_DIR, _HERE.parents[3] / NPM_DIR)
MAX_MODEL_BYTES = 50_000_000
MODEL_FILE = "model.tflite"


def runtime_root() -> Path:
    for candidate in _SCOPE_DIRS:
        if (candidate / RUNTIME_PACKAGE).is_file():
            return candidate
    raise FileNotFoundError("LiteRT.js is not installed: run `make deps` (npm ci)")


@functools.cache
def runtime_version() -> str:
    return str(json.loads((runtime_root() / RUNTIME_PACKAGE).read_text())["version"])


def runtime_url() -> str:
    return f"/assets/litert/{runtime_version()}/"


def runtime_file(version: str, name: str) -> tuple[Path, str]:
    """Where one runtime file lies and its content type; NotFound for any other name or version."""
    if version != runtime_version() or name not in RUNTIME_FILES:
        raise NotFound("No such file.")
    relative, content_type = RUNTIME_FILES[name]
    return runtime_root() / relative, content_type


@functools.cache
def runtime_module() -> bytes:
    """litert.js, importing its helper by a relative address the browser can resolve."""
    relative, _ = RUNTIME_FILES[RUNTIME_MODULE]
    data = (runtime_root() / relative).read_bytes()
    bare, relative_import = _BARE_IMPORT
    if data.count(bare) != 1:
        raise RuntimeError(f"{relative}: expected one {bare.decode()}; has the package changed?")
    return data.replace(bare, relative_import)


def _model_blob(record: dict[str, Any], file_name: str) -> Any:
    artifacts = record.get("artifacts") or {}
    if file_name not in artifacts.get("files", []):
        return None
    bucket = clients.storage_client().bucket(artifacts.get("bucket") or config.model_bucket())
    return bucket.blob(f"{artifacts.get('prefix')}{file_name}")


BUNDLED = "bundled"  # the generation in the address of the baseline bundled with the function


def _bundled() -> tuple[dict[str, Any], Path] | None:
    """The baseline version bundled with the function, served while the registry has none active."""
    folder = config.category_model_dir()
    meta, model = folder / "model.json", folder / MODEL_FILE
    if not (meta.is_file() and model.is_file()):
        return None
    return json.loads(meta.read_text()), model


def _description(meta: dict[str, Any], version: str, generation: Any, size: int) -> dict[str, Any]:
    name = config.CATEGORY_MODEL_NAME
    shape = list((meta.get("input") or {}).get("shape") or [])
    if len(shape) != 3 or shape[0] != shape[1] or shape[2] != 3:
        # Versions before the photo model (28x28 grey, cut out like Fashion-MNIST) need a
        # preprocessing the browser does not repeat.
        raise NotFound(f"{name} {version} does not take a whole photo as input; it cannot run in the browser.")
    return {
        "name": name,
        "version": version,
        "labels": meta["labels"],
        "temperature": float(meta.get("temperature", 1.0)),
        "auto_accept_threshold": meta.get("auto_accept_threshold"),
        "input": {"shape": shape},
        "model_url": f"/api/browser-model/{version}/{MODEL_FILE}?generation={generation}",
        "model_bytes": size,
        "runtime_url": runtime_url(),
    }


def describe(version: str | None, role: str) -> dict[str, Any]:
    """The metadata a browser needs to run a category version (the active one by default).

    Sellers may only have the active version; managers any registered one. With no active
    version (a fresh project) the baseline bundled with the function is the one that serves,
    so it is the one the browser gets.
    """
    name = config.CATEGORY_MODEL_NAME
    active = registry.active_version(name)
    if version is None and active is None:
        bundled = _bundled()
        if bundled is None:
            raise NotFound("No category model version is registered yet: the in-browser preview is off.")
        meta, path = bundled
        return _description(meta, str(meta["version"]), BUNDLED, path.stat().st_size)
    version = version or active
    if role != MANAGER and version != active:
        raise NotFound("No such model version.")
    record = registry.get_version(name, version) if version else None
    meta_blob, model_blob = (_model_blob(record, f) if record else None for f in ("model.json", MODEL_FILE))
    if meta_blob is None or model_blob is None:
        raise NotFound(f"{name} {version} has no model file for the browser.")
    try:
        meta = json.loads(meta_blob.download_as_bytes(end=1_000_000))
        model_blob.reload()
    except gexc.NotFound:
        raise NotFound(f"{name} {version}'s files are gone from the model bucket.") from None
    return _description(meta, str(version), model_blob.generation, model_blob.size)


@functools.lru_cache(maxsize=4)
def _download(bucket: str, name: str, generation: int) -> bytes:
    blob = clients.storage_client().bucket(bucket).blob(name, generation=generation)
    try:
        data: bytes = blob.download_as_bytes(end=MAX_MODEL_BYTES)
    except gexc.NotFound:
        raise NotFound("That model file is no longer there.") from None
    return data


def model_file(version: str, generation: Any, role: str) -> bytes:
    """The bytes of one generation of a version's model.tflite (same rule as ``describe``)."""
    name = config.CATEGORY_MODEL_NAME
    active = registry.active_version(name)
    if generation == BUNDLED:
        bundled = _bundled()
        if active is not None or bundled is None or str(bundled[0]["version"]) != version:
            raise NotFound("No such model file.")
        return bundled[1].read_bytes()
    if role != MANAGER and version != active:
        raise NotFound("No such model version.")
    record = registry.get_version(name, version)
    blob = _model_blob(record, MODEL_FILE) if record else None
    if blob is None or not str(generation or "").isdigit():
        raise NotFound("No such model file.")
    return _download(blob.bucket.name, blob.name, int(generation))
