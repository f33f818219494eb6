"""Every setting fashiontag reads, in one place.

Values come from the environment so the same code runs on the local emulators and in the
cloud; each is read when asked for, never cached at import, so tests can change them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DEFAULT = "demo-fashiontag"

# The names of the data contract (collections, statuses, topics, paths) are in ``contract``.

CATEGORY_MODEL_NAME = "category"


_ATTRIBUTE_MODEL_PREFIX = "attributes-"


def attribute_model_name(category: str) -> str:
    """The registry name of a category's attribute model: ``attributes-trouser``."""
    return f"{_ATTRIBUTE_MODEL_PREFIX}{category}"


def attribute_model_category(name: str) -> str:
    """The category of an attribute model's registry name: ``trouser``."""
    return name.removeprefix(_ATTRIBUTE_MODEL_PREFIX)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def project() -> str:
    return _env("GOOGLE_CLOUD_PROJECT", PROJECT_DEFAULT)


def upload_bucket() -> str:
    return _env("FASHIONTAG_UPLOAD_BUCKET", f"{project()}-uploads")


def model_bucket() -> str:
    return _env("FASHIONTAG_MODEL_BUCKET", f"{project()}-models")


def model_refresh_seconds() -> float:
    """How often serving checks the registry for a newly promoted version."""
    return float(_env("FASHIONTAG_MODEL_REFRESH_SECONDS", "30"))


def model_cache_dir() -> Path:
    """Where serving keeps downloaded model versions (the only writable place in Cloud Functions)."""
    return Path(_env("FASHIONTAG_MODEL_CACHE", "/tmp/fashiontag-models"))


def models_root() -> Path:
    """Where shipped models and the taxonomy live.

    In the repository that is ``models/`` at the top; in a deployed function bundle the
    build copies ``models/`` next to ``main.py`` and the package.
    """
    explicit = os.environ.get("FASHIONTAG_MODELS_ROOT")
    if explicit:
        return Path(explicit)
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "models", here.parents[1] / "models"):
        if (candidate / "taxonomy.yaml").is_file():
            return candidate
    raise FileNotFoundError("models/ with taxonomy.yaml not found; set FASHIONTAG_MODELS_ROOT")


def taxonomy_path() -> Path:
    return models_root() / "taxonomy.yaml"


def category_model_version() -> str:
    return _env("FASHIONTAG_CATEGORY_MODEL_VERSION", "v4")


def category_model_dir() -> Path:
    return models_root() / CATEGORY_MODEL_NAME / category_model_version()


def auto_accept_threshold() -> float:
    """Category confidence from which a prediction is accepted without review."""
    return float(_env("FASHIONTAG_AUTO_ACCEPT_THRESHOLD", "0.9"))


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    min_side: int


def limits() -> Limits:
    return Limits(
        max_bytes=int(_env("FASHIONTAG_MAX_UPLOAD_BYTES", "20000000")),
        max_pixels=int(_env("FASHIONTAG_MAX_PIXELS", str(40_000_000))),
        min_side=int(_env("FASHIONTAG_MIN_SIDE", "32")),
    )


def processing_lease_seconds() -> float:
    """How long one delivery may own a product before another delivery takes over."""
    return float(_env("FASHIONTAG_LEASE_SECONDS", "60"))


@dataclass(frozen=True)
class Reconciling:
    grace_s: float  # younger uploads are left to their delivery, which may still be running
    window_days: float  # older uploads are not looked at
    max_objects: int  # uploads listed per run; the next run goes on where this one stopped


def reconciling() -> Reconciling:
    """How the reconciler bounds one run (fashiontag.reconciler)."""
    return Reconciling(
        grace_s=float(_env("FASHIONTAG_RECONCILE_GRACE_SECONDS", "120")),
        window_days=float(_env("FASHIONTAG_RECONCILE_WINDOW_DAYS", "7")),
        max_objects=int(_env("FASHIONTAG_RECONCILE_MAX_OBJECTS", "2000")),
    )


def fashion_mnist_dir() -> Path:
    return Path(_env("FASHIONTAG_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))


# How notify delivers a push (the push record itself is ``contract.PUSH_OUTBOX``).
PUSH_MODE_FCM = "fcm"
PUSH_MODE_OUTBOX = "outbox"


def push_mode() -> str:
    """How notify delivers pushes: ``fcm`` (Firebase Cloud Messaging) or ``outbox``.

    Cloud Messaging has no emulator, so wherever Firestore is the emulator the default is
    ``outbox``: the push is written to ``push_outbox/{notification_id}`` instead of sent.
    """
    default = PUSH_MODE_OUTBOX if os.environ.get("FIRESTORE_EMULATOR_HOST") else PUSH_MODE_FCM
    mode = _env("FASHIONTAG_PUSH_MODE", default)
    if mode not in (PUSH_MODE_FCM, PUSH_MODE_OUTBOX):
        raise ValueError(f"FASHIONTAG_PUSH_MODE must be {PUSH_MODE_FCM} or {PUSH_MODE_OUTBOX}, not {mode!r}")
    return mode


def promotion_margin() -> float:
    """How much better (accuracy, absolute) a candidate must be to replace the active version."""
    return float(_env("FASHIONTAG_PROMOTION_MARGIN", "0.002"))


def promotion_max_class_drop() -> float:
    """How far any one class's accuracy may fall in a promoted candidate."""
    return float(_env("FASHIONTAG_PROMOTION_MAX_CLASS_DROP", "0.02"))


def region() -> str:
    return _env("FASHIONTAG_REGION", "europe-west1")


def classify_url() -> str:
    """Where the admin function reaches the classify function ("try a model" on the models page).

    The default is the address Cloud Functions gives ``classify`` in this project and region.
    """
    return _env("FASHIONTAG_CLASSIFY_URL", f"https://{region()}-{project()}.cloudfunctions.net/classify")


def training_backend() -> str:
    """``subprocess`` on the local stack; ``cloud_run`` (a Cloud Run job execution) in the cloud."""
    default = "subprocess" if os.environ.get("FIRESTORE_EMULATOR_HOST") else "cloud_run"
    return _env("FASHIONTAG_TRAINING_BACKEND", default)


def training_job() -> str:
    return _env("FASHIONTAG_TRAINING_JOB", "fashiontag-train")


def job_log_dir() -> Path:
    return Path(_env("FASHIONTAG_JOB_LOG_DIR", "/tmp/fashiontag-jobs"))


def firebase_web_api_key() -> str:
    """The Firebase Web API key the admin page signs in with (the Auth emulator takes any)."""
    return _env("FASHIONTAG_FIREBASE_API_KEY", "fake-api-key")


def auth_emulator_host() -> str:
    """``host:port`` of the Firebase Auth emulator; empty in the cloud."""
    return _env("FIREBASE_AUTH_EMULATOR_HOST", "")


def auto_retrain_labels() -> int:
    """New verified labels that trigger a retraining by themselves (0 turns the trigger off)."""
    return int(_env("FASHIONTAG_AUTO_RETRAIN_LABELS", "500"))
