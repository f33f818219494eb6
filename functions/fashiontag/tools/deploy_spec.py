"""The declared functions (``infra/functions.yaml``) as typed values: one loader for the deploy plan,
the bundle packager and the drift checks.

A malformed or incomplete declaration raises ``SpecError`` naming the key, so a typo fails the
build instead of silently deploying a default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).resolve().parents[3] / "infra" / "functions.yaml"
TRIGGER_TYPES = ("storage", "http", "pubsub_push")
MODEL_BUNDLES = ("none", "taxonomy", "category")
ENV_POLICIES = ("deploy", "model", "default", "local", "runtime")
MODEL_VERSION_VAR = "FASHIONTAG_CATEGORY_MODEL_VERSION"


class SpecError(ValueError):
    """infra/functions.yaml is malformed or incomplete."""


@dataclass(frozen=True)
class Delivery:
    """Retry and dead-letter settings of the Pub/Sub subscription that carries a trigger's events."""

    min_backoff_s: int
    max_backoff_s: int
    max_delivery_attempts: int
    dead_letter_topic: str


@dataclass(frozen=True)
class Trigger:
    type: str
    event_type: str | None = None
    bucket: str | None = None
    retry: bool = False
    service_account: str | None = None
    local_subscription: str | None = None
    delivery: Delivery | None = None
    public: bool = False
    why_public: str = ""
    invokers: tuple[str, ...] = ()
    subscriptions: tuple[str, ...] = ()

    @property
    def decorator(self) -> str:
        """The functions-framework decorator the entry point must carry for this trigger."""
        return "http" if self.type == "http" else "cloud_event"


@dataclass(frozen=True)
class Function:
    folder: str
    name: str
    entry_point: str
    trigger: Trigger
    memory: str
    cpu: str
    concurrency: int
    timeout_s: int
    min_instances: int
    max_instances: int
    service_account: str
    ingress: str
    models: str
    env: Mapping[str, str]
    browser_runtime: bool = False  # the bundle carries LiteRT.js for the page (vendor/)

    @property
    def model_version(self) -> str | None:
        return self.env.get(MODEL_VERSION_VAR) if self.models == "category" else None


@dataclass(frozen=True)
class EnvVar:
    name: str
    policy: str
    why: str
    functions: tuple[str, ...] = ()  # a deploy variable only these functions need (empty: all)

    def required_by(self, fn: Function) -> bool:
        if self.policy == "model":
            return fn.models == "category"
        return self.policy == "deploy" and (not self.functions or fn.folder in self.functions)


@dataclass(frozen=True)
class Spec:
    runtime: str
    environment: Mapping[str, EnvVar]
    functions: Mapping[str, Function]


def _take(raw: Mapping[str, Any], where: str, required: Sequence[str], optional: Sequence[str] = ()) -> None:
    """Reject unknown keys (a typo would otherwise silently deploy a default) and missing ones."""
    unknown = set(raw) - set(required) - set(optional)
    missing = [key for key in required if key not in raw]
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)}")
    if missing:
        raise SpecError(f"{where}: missing keys {missing}")


def _trigger(raw: Mapping[str, Any], where: str) -> Trigger:
    kind = raw.get("type")
    if kind == "storage":
        _take(
            raw,
            where,
            ("type", "event_type", "bucket", "retry", "service_account", "local_subscription", "delivery"),
        )
        d = raw["delivery"]
        _take(d, f"{where}.delivery", ("min_backoff_s", "max_backoff_s", "max_delivery_attempts", "dead_letter_topic"))
        delivery = Delivery(
            int(d["min_backoff_s"]),
            int(d["max_backoff_s"]),
            int(d["max_delivery_attempts"]),
            str(d["dead_letter_topic"]),
        )
        return Trigger(
            type="storage",
            event_type=str(raw["event_type"]),
            bucket=str(raw["bucket"]),
            retry=bool(raw["retry"]),
            service_account=str(raw["service_account"]),
            local_subscription=str(raw["local_subscription"]),
            delivery=delivery,
        )
    if kind == "http":
        # An HTTP function may also receive Pub/Sub pushes (it handles the push body itself) or
        # Cloud Scheduler's calls; service_account names the identity they are signed with.
        _take(raw, where, ("type", "public"), ("why_public", "invokers", "subscriptions", "service_account"))
        subscriptions = tuple(str(s) for s in raw.get("subscriptions") or ())
        if subscriptions and not raw.get("service_account"):
            raise SpecError(f"{where}: subscriptions need the service_account that signs the pushes")
        if raw["public"] and not raw.get("why_public"):
            raise SpecError(f"{where}: a public function must say why_public (how it authenticates callers)")
        return Trigger(
            type="http",
            public=bool(raw["public"]),
            why_public=str(raw.get("why_public") or ""),
            invokers=tuple(raw.get("invokers") or ()),
            subscriptions=subscriptions,
            service_account=str(raw["service_account"]) if raw.get("service_account") else None,
        )
    if kind == "pubsub_push":
        # Deployed as a private HTTP function; the Terraform push subscription named here
        # delivers to it with an OIDC token of the trigger service account.
        _take(raw, where, ("type", "subscriptions", "service_account"))
        return Trigger(
            type="pubsub_push",
            subscriptions=tuple(str(s) for s in raw["subscriptions"]),
            service_account=str(raw["service_account"]),
        )
    raise SpecError(f"{where}.type must be one of {TRIGGER_TYPES}, not {kind!r}")


def load_spec(path: Path = SPEC_PATH) -> Spec:
    # libyaml's loader when present: the tests load this file many times.
    raw = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    _take(raw, str(path), ("runtime", "environment", "functions"))
    environment: dict[str, EnvVar] = {}
    for name, entry in (raw["environment"] or {}).items():
        _take(entry, f"environment.{name}", ("policy", "why"), ("functions",))
        if entry["policy"] not in ENV_POLICIES:
            raise SpecError(f"environment.{name}.policy must be one of {ENV_POLICIES}")
        only = tuple(str(f) for f in entry.get("functions") or ())
        environment[name] = EnvVar(name, str(entry["policy"]), str(entry["why"]), only)
    functions: dict[str, Function] = {}
    keys = (
        "name",
        "entry_point",
        "trigger",
        "memory",
        "cpu",
        "concurrency",
        "timeout_s",
        "min_instances",
        "max_instances",
        "service_account",
        "ingress",
        "models",
        "env",
    )
    for folder, entry in (raw["functions"] or {}).items():
        where = f"functions.{folder}"
        _take(entry, where, keys, ("browser_runtime",))
        if not isinstance(entry.get("browser_runtime", False), bool):
            raise SpecError(f"{where}.browser_runtime must be true or false")
        if entry["models"] not in MODEL_BUNDLES:
            raise SpecError(f"{where}.models must be one of {MODEL_BUNDLES}, not {entry['models']!r}")
        functions[folder] = Function(
            folder=folder,
            name=str(entry["name"]),
            entry_point=str(entry["entry_point"]),
            trigger=_trigger(entry["trigger"], f"{where}.trigger"),
            memory=str(entry["memory"]),
            cpu=str(entry["cpu"]),
            concurrency=int(entry["concurrency"]),
            timeout_s=int(entry["timeout_s"]),
            min_instances=int(entry["min_instances"]),
            max_instances=int(entry["max_instances"]),
            service_account=str(entry["service_account"]),
            ingress=str(entry["ingress"]),
            models=str(entry["models"]),
            env={str(k): str(v) for k, v in (entry["env"] or {}).items()},
            browser_runtime=bool(entry.get("browser_runtime", False)),
        )
    return Spec(runtime=str(raw["runtime"]), environment=environment, functions=functions)
