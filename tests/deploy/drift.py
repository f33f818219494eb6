"""Drift checks between the code and its deployment: each returns the problems it finds.

The checks read a repository tree (the real one, or a modified copy in a test) and compare:
- functions/*/main.py          with infra/functions.yaml (declared, entry point, decorator)
- fashiontag.topology          with infra/*.tf and the storage trigger (topics, dead letters,
                               retry and dead-letter settings of every subscription)
- environment reads in the code with the environment catalogue and each function's env
- Firestore queries in the code with the composite indexes in infra/firestore.tf
- imports reachable from each main.py with the function's own requirements.txt
- the deploy plan's Terraform variables and APIs with infra/*.tf

A check never imports the code it checks (``ast`` only), so it can run on a copy; only the
topology is taken as a value, which a test may replace.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fashiontag import topology as real_topology
from scripts import deploy_plan
from scripts.deploy_plan import Function, Spec, SpecError
from scripts.package_function import EXCLUDED_SUBPACKAGES
from tests.deploy import terraform as tf

# Cloud Run functions (2nd gen) limits and choices the declaration must respect.
GEN2_MEMORY = ("128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi")
EVENT_TIMEOUT_MAX_S = 540
HTTP_TIMEOUT_MAX_S = 3600
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$")
ACCOUNT_PATTERN = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
STORAGE_BRIDGE = "storage_bridge"  # the local stand-in for Eventarc's delivery to on_upload
_VAR_PROJECT = "<var.project>"  # how the reader renders var.project, which has no default

# Which API each Terraform resource type needs enabled.
RESOURCE_APIS = {
    "google_artifact_registry_": "artifactregistry.googleapis.com",
    "google_cloud_run_": "run.googleapis.com",
    "google_cloud_scheduler_": "cloudscheduler.googleapis.com",
    "google_firebaserules_": "firebaserules.googleapis.com",
    "google_firestore_": "firestore.googleapis.com",
    "google_project_iam_": "cloudresourcemanager.googleapis.com",
    "google_pubsub_": "pubsub.googleapis.com",
    "google_service_account": "iam.googleapis.com",
    "google_storage_": "storage.googleapis.com",
}

EQUALITY_OPS = {"==", "in"}


@dataclass(frozen=True)
class Topology:
    """The local Pub/Sub declaration (fashiontag.topology) as plain values."""

    topics: tuple[str, ...]
    subscriptions: tuple[real_topology.PushSubscription, ...]

    @staticmethod
    def dead_letter(topic: str) -> str:
        return real_topology.dead_letter(topic)

    @classmethod
    def current(cls) -> Topology:
        return cls(tuple(real_topology.TOPICS), tuple(real_topology.LOCAL_SUBSCRIPTIONS))


@dataclass(frozen=True)
class Repo:
    root: Path

    @property
    def functions(self) -> Path:
        return self.root / "functions"

    @property
    def package(self) -> Path:
        return self.root / "functions" / "fashiontag"

    @property
    def infra(self) -> Path:
        return self.root / "infra"

    def spec(self) -> Spec:
        return deploy_plan.load_spec(self.infra / "functions.yaml")

    def terraform(self) -> tf.Config:
        return tf.load(self.infra)

    def function_folders(self) -> set[str]:
        return {
            d.name
            for d in self.functions.iterdir()
            if d.is_dir() and d.name != "fashiontag" and (d / "main.py").is_file()
        }


def _parse(path: Path) -> ast.Module:
    return _parse_source(path.read_text())


@functools.lru_cache(maxsize=1024)
def _parse_source(source: str) -> ast.Module:
    # Keyed by content: the copies the bite tests break share every unchanged file's tree.
    # Nothing here mutates a tree.
    return ast.parse(source)


# --- functions: declared, entry points, triggers, settings --------------------------------------


def decorated_entry_points(main_py: Path) -> dict[str, str]:
    """Function name -> ``http`` or ``cloud_event`` for every functions-framework entry point."""
    found: dict[str, str] = {}
    for node in ast.walk(_parse(main_py)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
            if name in ("http", "cloud_event"):
                found[node.name] = name
    return found


def check_functions(repo: Repo, spec: Spec) -> list[str]:
    problems = []
    folders = repo.function_folders()
    for folder in sorted(folders - set(spec.functions)):
        problems.append(
            f"functions/{folder}/main.py exists but {folder} is not declared in infra/functions.yaml "
            "(it would never be deployed)"
        )
    for folder in sorted(set(spec.functions) - folders):
        problems.append(f"infra/functions.yaml declares {folder} but functions/{folder}/main.py does not exist")
    for folder in sorted(set(spec.functions) & folders):
        fn = spec.functions[folder]
        entry_points = decorated_entry_points(repo.functions / folder / "main.py")
        kind = entry_points.get(fn.entry_point)
        if kind is None:
            problems.append(
                f"{folder}: entry point {fn.entry_point!r} is not a functions-framework function in "
                f"functions/{folder}/main.py (found: {sorted(entry_points) or 'none'})"
            )
        elif kind != fn.trigger.decorator:
            problems.append(
                f"{folder}: a {fn.trigger.type} trigger delivers to @functions_framework.{fn.trigger.decorator}, "
                f"but {fn.entry_point} is decorated @functions_framework.{kind}"
            )
        if not (repo.functions / folder / "requirements.txt").is_file():
            problems.append(f"functions/{folder}/requirements.txt is missing")
    return problems


def check_settings(spec: Spec) -> list[str]:
    problems = []
    match = re.fullmatch(r"python3(\d+)", spec.runtime)
    if not match or int(match.group(1)) < 11:
        problems.append(f"runtime {spec.runtime!r}: needs python311 or newer")
    names = [fn.name for fn in spec.functions.values()]
    accounts = [fn.service_account for fn in spec.functions.values()]
    if len(set(names)) != len(names):
        problems.append(f"two functions share a name: {names}")
    if len(set(accounts)) != len(accounts):
        problems.append(f"functions share a service account (one per function, least privilege): {accounts}")
    for fn in spec.functions.values():
        where = fn.folder
        if not NAME_PATTERN.fullmatch(fn.name):
            problems.append(f"{where}: name {fn.name!r} is not a valid 2nd gen name (lowercase, digits, hyphens)")
        if fn.memory not in GEN2_MEMORY:
            problems.append(f"{where}: memory {fn.memory!r} is not one of {GEN2_MEMORY}")
        if fn.concurrency > 1 and float(fn.cpu) < 1:
            problems.append(f"{where}: concurrency {fn.concurrency} needs cpu >= 1 (has {fn.cpu})")
        limit = HTTP_TIMEOUT_MAX_S if fn.trigger.type == "http" else EVENT_TIMEOUT_MAX_S
        if not 1 <= fn.timeout_s <= limit:
            problems.append(f"{where}: timeout {fn.timeout_s}s outside 1..{limit}s for a {fn.trigger.type} trigger")
        if not 0 <= fn.min_instances <= fn.max_instances:
            problems.append(f"{where}: min_instances {fn.min_instances} > max_instances {fn.max_instances}")
        for account in filter(None, (fn.service_account, fn.trigger.service_account)):
            if not ACCOUNT_PATTERN.fullmatch(account):
                problems.append(f"{where}: {account!r} is not a valid service account id (6-30 chars)")
        if fn.trigger.type == "storage" and not fn.trigger.retry:
            problems.append(f"{where}: storage trigger without retry: a transient failure would drop the upload")
        if fn.trigger.public and (fn.trigger.subscriptions or fn.trigger.invokers):
            problems.append(f"{where}: a public function needs no invokers or push identity")
    return problems


# --- environment variables -----------------------------------------------------------------------

_ENV_CALLS = {"_env", "getenv"}


def env_reads(path: Path) -> dict[str, int]:
    """Variable name -> first line, for every literal environment read in one module."""
    return dict(_env_reads(path.read_text()))


@functools.lru_cache(maxsize=1024)
def _env_reads(source: str) -> tuple[tuple[str, int], ...]:
    found: dict[str, int] = {}

    def note(node: ast.expr | None, line: int) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.setdefault(node.value, line)

    for node in ast.walk(_parse_source(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            environ_method = (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Attribute)
                and func.value.attr == "environ"
                and func.attr in ("get", "setdefault", "pop")
            )
            if (environ_method or name in _ENV_CALLS) and node.args:
                note(node.args[0], node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
            if node.value.attr == "environ":
                note(node.slice, node.lineno)
        elif isinstance(node, ast.Compare) and any(
            isinstance(c, ast.Attribute) and c.attr == "environ" for c in node.comparators
        ):
            note(node.left, node.lineno)
    return tuple(found.items())


def shipped_modules(repo: Repo) -> list[Path]:
    """The package's modules as a bundle carries them (no training/, local/ or tools/)."""
    return sorted(
        p for p in repo.package.rglob("*.py") if p.relative_to(repo.package).parts[0] not in EXCLUDED_SUBPACKAGES
    )


def check_environment(repo: Repo, spec: Spec) -> list[str]:
    problems = []
    read: dict[str, str] = {}
    for module in shipped_modules(repo):
        for name, line in env_reads(module).items():
            read.setdefault(name, f"{module.relative_to(repo.root)}:{line}")
    for name in sorted(set(read) - set(spec.environment)):
        problems.append(
            f"{name} is read at {read[name]} but not listed under environment in infra/functions.yaml "
            "(say whether the cloud must set it or its default is safe)"
        )
    for name in sorted(set(spec.environment) - set(read)):
        problems.append(f"infra/functions.yaml lists {name}, which no shipped module reads any more")
    target = deploy_plan.Target("p", "r", "u", "m", "s")
    for fn in spec.functions.values():
        for name, value in fn.env.items():
            var = spec.environment.get(name)
            if var is None:
                problems.append(f"{fn.folder}: sets {name}, which is not in the environment catalogue")
            elif var.policy == "local":
                problems.append(f"{fn.folder}: sets {name}, a local-only variable ({var.why})")
            try:
                target.fill(value)
            except SpecError as error:
                problems.append(f"{fn.folder}: {error}")
        for var in spec.environment.values():
            if var.required_by(fn) and var.name not in fn.env:
                problems.append(f"{fn.folder}: must set {var.name} at deploy ({var.why})")
    return problems


# --- Pub/Sub: topics, dead letters, subscriptions ---------------------------------------------------


def _values(cfg: tf.Config, rtype: str, attr: str) -> list[tuple[tf.Instance, object]]:
    return [(inst, cfg.attr(inst, attr)) for inst in cfg.instances(rtype)]


def check_topics(cfg: tf.Config, topo: Topology) -> list[str]:
    problems = []
    cloud = {str(name) for _, name in _values(cfg, "google_pubsub_topic", "name")}
    expected = set(topo.topics) | {topo.dead_letter(t) for t in topo.topics}
    # The storage bridge's topic is local only (Eventarc carries those events in the cloud),
    # but its dead-letter topic is where on-upload's undeliverable events go in both places.
    expected |= {s.dead_letter_topic for s in topo.subscriptions}
    for topic in sorted(expected - cloud):
        problems.append(f"topic {topic} is in fashiontag.topology but not in infra/pubsub.tf")
    for topic in sorted(cloud - expected):
        problems.append(f"topic {topic} is in infra/pubsub.tf but not in fashiontag.topology")
    subscribed = {str(t) for _, t in _values(cfg, "google_pubsub_subscription", "topic")}
    names = {str(n) for _, n in _values(cfg, "google_pubsub_subscription", "name")}
    publishers = {
        str(cfg.attr(inst, "topic"))
        for inst in cfg.instances("google_pubsub_topic_iam_member")
        if cfg.attr(inst, "role") == "roles/pubsub.publisher" and "gcp-sa-pubsub" in str(cfg.attr(inst, "member"))
    }
    for dead in sorted(t for t in cloud if t.endswith("-dead-letter")):
        if dead not in subscribed or f"{dead}-sub" not in names:
            problems.append(f"dead-letter topic {dead} has no subscription {dead}-sub: what reaches it is dropped")
        if dead not in publishers:
            problems.append(f"the Pub/Sub service agent cannot publish to {dead}: dead-lettering would fail")
    return problems


def check_subscriptions(repo: Repo, spec: Spec, cfg: tf.Config, topo: Topology) -> list[str]:
    problems = []
    deployed = set(spec.functions) & repo.function_folders()
    push = {
        str(cfg.attr(inst, "name")): inst
        for inst in cfg.instances("google_pubsub_subscription")
        if cfg.attr(inst, "push_config") is not None
    }
    local_names = {s.name for s in topo.subscriptions}
    storage = [fn for fn in spec.functions.values() if fn.trigger.type == "storage"]
    for sub in topo.subscriptions:
        if sub.target == STORAGE_BRIDGE:
            matching = [fn for fn in storage if fn.trigger.local_subscription == sub.name]
            if not matching:
                problems.append(f"{sub.name} (local storage bridge) has no storage-triggered function in the cloud")
            for fn in matching:
                problems += _compare_delivery(fn, sub)
        elif sub.target in deployed:
            inst = push.get(sub.name)
            if inst is None:
                problems.append(
                    f"subscription {sub.name} ({sub.topic} -> {sub.target}) is in fashiontag.topology "
                    "but not in local.push_subscriptions (infra/main.tf)"
                )
                continue
            problems += _compare_push(cfg, inst, sub, spec.functions[sub.target])
        elif sub.name in push:
            problems.append(
                f"subscription {sub.name} pushes to {sub.target}, which is not deployed "
                f"(no functions/{sub.target}/main.py declared in infra/functions.yaml)"
            )
    for name in sorted(set(push) - local_names):
        problems.append(f"subscription {name} is in infra/*.tf but not in fashiontag.topology")
    for fn in spec.functions.values():
        if fn.trigger.type == "storage" and fn.trigger.local_subscription not in local_names:
            problems.append(f"{fn.folder}: local_subscription {fn.trigger.local_subscription} is not in topology")
        for name in fn.trigger.subscriptions:
            if name not in local_names:
                problems.append(f"{fn.folder}: subscription {name} is not in topology")
    return problems


def _compare_delivery(fn: Function, sub: real_topology.PushSubscription) -> list[str]:
    d = fn.trigger.delivery
    assert d is not None
    pairs = {
        "min_backoff_s": (d.min_backoff_s, sub.retry.minimum_backoff_s),
        "max_backoff_s": (d.max_backoff_s, sub.retry.maximum_backoff_s),
        "max_delivery_attempts": (d.max_delivery_attempts, sub.max_delivery_attempts),
        "dead_letter_topic": (d.dead_letter_topic, sub.dead_letter_topic),
    }
    return [
        f"{fn.folder}: trigger delivery {key} is {cloud!r} in infra/functions.yaml but {local!r} in "
        f"topology ({sub.name})"
        for key, (cloud, local) in pairs.items()
        if cloud != local
    ]


def _compare_push(cfg: tf.Config, inst: tf.Instance, sub: real_topology.PushSubscription, fn: Function) -> list[str]:
    expected = {
        "topic": sub.topic,
        "ack_deadline_seconds": sub.ack_deadline_s,
        "retry_policy.minimum_backoff": f"{sub.retry.minimum_backoff_s}s",
        "retry_policy.maximum_backoff": f"{sub.retry.maximum_backoff_s}s",
        "dead_letter_policy.dead_letter_topic": sub.dead_letter_topic,
        "dead_letter_policy.max_delivery_attempts": sub.max_delivery_attempts,
    }
    problems = [
        f"subscription {sub.name}: {attr} is {cfg.attr(inst, attr)!r} in infra but {want!r} in topology"
        for attr, want in expected.items()
        if cfg.attr(inst, attr) != want
    ]
    endpoint = str(cfg.attr(inst, "push_config.push_endpoint"))
    audience = str(cfg.attr(inst, "push_config.oidc_token.audience"))
    # The function's Cloud Run URL (its service has the function's name), and in the path the
    # topic, which functions-framework reads to turn the push body into a CloudEvent.
    if not endpoint.startswith(f"https://{fn.name}-") or not endpoint.endswith(
        f"/projects/{_VAR_PROJECT}/topics/{sub.topic}"
    ):
        problems.append(
            f"subscription {sub.name}: push endpoint {endpoint} is not {fn.name}'s URL + /projects/P/topics/{sub.topic}"
        )
    if not endpoint.startswith(audience):
        problems.append(f"subscription {sub.name}: OIDC audience {audience} is not the endpoint's service URL")
    if sub.name not in fn.trigger.subscriptions:
        problems.append(f"{fn.folder}: receives {sub.name} but its trigger does not list it under subscriptions")
    if fn.timeout_s > sub.ack_deadline_s:
        problems.append(f"{fn.folder}: timeout {fn.timeout_s}s exceeds {sub.name}'s ack deadline {sub.ack_deadline_s}s")
    return problems


def ingest_max_attempts(repo: Repo) -> int | None:
    for node in _parse(repo.package / "ingest.py").body:
        if (
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", "") == "_MAX_ATTEMPTS" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, int)
        ):
            return node.value.value
    return None


def check_poison_uploads(repo: Repo, spec: Spec) -> list[str]:
    """An upload that crashes the decoder is rejected after N attempts; delivery must outlast N."""
    limit = ingest_max_attempts(repo)
    if limit is None:
        return ["cannot read _MAX_ATTEMPTS in functions/fashiontag/ingest.py"]
    return [
        f"{fn.folder}: {fn.trigger.delivery.max_delivery_attempts} delivery attempts end in the dead-letter "
        f"topic before ingest rejects a poison upload at attempt {limit}: it would stay 'received'"
        for fn in spec.functions.values()
        if fn.trigger.delivery and fn.trigger.delivery.max_delivery_attempts <= limit
    ]


# --- service accounts and the Eventarc permissions --------------------------------------------------


def check_service_accounts(spec: Spec, cfg: tf.Config) -> list[str]:
    problems = []
    accounts = {str(a) for _, a in _values(cfg, "google_service_account", "account_id")}
    project_roles = {
        (str(cfg.attr(i, "role")), str(cfg.attr(i, "member"))) for i in cfg.instances("google_project_iam_member")
    }
    for fn in spec.functions.values():
        for account in filter(None, (fn.service_account, fn.trigger.service_account)):
            if account not in accounts:
                problems.append(f"{fn.folder}: service account {account} is not created in infra/iam.tf")
        if fn.trigger.type == "storage":
            if ("roles/eventarc.eventReceiver", f"serviceAccount:{fn.trigger.service_account}") not in project_roles:
                problems.append(
                    f"{fn.folder}: trigger account {fn.trigger.service_account} lacks eventarc.eventReceiver"
                )
            if not any(
                role == "roles/pubsub.publisher" and "google_storage_project_service_account" in member
                for role, member in project_roles
            ):
                problems.append(
                    "the Cloud Storage service agent lacks pubsub.publisher: storage triggers get no events"
                )
    return problems


# --- Firestore queries and composite indexes --------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One Firestore query as the code runs it: the clauses on one path to .stream()/.get()."""

    where: str  # file:function
    collection: str
    group: bool  # a collection-group query
    filters: tuple[tuple[str, str], ...] = ()  # (field, operator)
    orders: tuple[str, ...] = ()

    @property
    def fields(self) -> set[str]:
        return {f for f, _ in self.filters} | set(self.orders)

    @property
    def clauses(self) -> int:
        return len(self.filters) + len(self.orders)

    @property
    def needs_composite(self) -> bool:
        # Equality filters on several fields are served by merging single-field indexes; an
        # inequality, array or order clause combined with any other field needs a composite one.
        ranged = self.orders or any(op not in EQUALITY_OPS for _, op in self.filters)
        return bool(ranged) and len(self.fields) >= 2


def _constants(module: ast.Module) -> dict[str, str]:
    return {
        t.id: node.value.value
        for node in module.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def _literal(node: ast.expr) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else "?"


# Query methods that keep the query (and its index needs) as they are, and those that run it.
_PASS_THROUGH = {"limit", "limit_to_last", "offset", "select", "start_at", "start_after", "end_at", "end_before"}
_TERMINAL = {"stream", "get", "count", "sum", "avg", "on_snapshot"}
_MAX_PATHS = 256


class _QueryWalker:
    """Follows query builders through one module's functions, path by path.

    Queries are built in steps (``query = query.where(...)`` under an ``if``), and the
    branches of an ``if`` are different queries: clauses met on exclusive branches never meet
    in one query, so each path through the function is followed on its own, and a query is
    recorded where it runs (``stream()``, ``get()``, ``count()``...).
    """

    def __init__(self, module: ast.Module, shared_constants: dict[str, str], where: str) -> None:
        self.constants = _constants(module)
        self.shared_constants = shared_constants
        self.helpers = {f.name: f for f in module.body if isinstance(f, ast.FunctionDef)}
        self.where = where
        self.found: dict[Query, None] = {}

    def name_of(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):  # the module's own, or imported from contract / config
            return self.constants.get(node.id) or self.shared_constants.get(node.id, "?")
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", "") in _SHARED_MODULES:
            return self.shared_constants.get(node.attr, "?")
        return "?"

    def chain(self, node: ast.expr, env: dict[str, Query]) -> Query | None:
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.helpers:
            # A helper that returns a collection (``def _products(): return db.collection(X)``).
            returns = [s.value for s in ast.walk(self.helpers[func.id]) if isinstance(s, ast.Return) and s.value]
            return self.chain(returns[0], {}) if len(returns) == 1 else None
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr in ("collection", "collection_group") and node.args:
            return Query(self.where, self.name_of(node.args[0]), func.attr == "collection_group")
        base = self.chain(func.value, env)
        if base is None:
            return None
        if func.attr == "where":
            found = [
                (self.name_of(c.args[0]), _literal(c.args[1]))
                for c in ast.walk(node)
                if isinstance(c, ast.Call)
                and getattr(c.func, "attr", getattr(c.func, "id", "")) == "FieldFilter"
                and len(c.args) >= 2
            ]
            if not found and len(node.args) >= 3:  # the positional where(field, op, value) form
                found = [(self.name_of(node.args[0]), _literal(node.args[1]))]
            return replace(base, filters=base.filters + tuple(found or [("?", "?")]))
        if func.attr == "order_by":
            return replace(base, orders=(*base.orders, self.name_of(node.args[0]) if node.args else "?"))
        if func.attr in _PASS_THROUGH or func.attr in _TERMINAL:
            return base
        return None  # .document(...) and the like: no longer a query

    def record(self, node: ast.AST, env: dict[str, Query]) -> None:
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in _TERMINAL:
                query = self.chain(call.func.value, env)
                if query is not None and query.clauses:
                    self.found[query] = None

    def run(self, stmts: list[ast.stmt], env: dict[str, Query]) -> list[dict[str, Query]]:
        envs = [env]
        for stmt in stmts:
            envs = [after for e in envs for after in self.step(stmt, e)][:_MAX_PATHS]
        return envs

    def step(self, s: ast.stmt, env: dict[str, Query]) -> list[dict[str, Query]]:
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return [env]  # walked on their own
        if isinstance(s, ast.If):
            self.record(s.test, env)
            return self.run(s.body, dict(env)) + self.run(s.orelse, dict(env))
        if isinstance(s, ast.For | ast.AsyncFor | ast.While):
            self.record(s.iter if isinstance(s, ast.For | ast.AsyncFor) else s.test, env)
            return self.run(s.body, dict(env)) + self.run(s.orelse, dict(env))
        if isinstance(s, ast.With | ast.AsyncWith):
            for item in s.items:
                self.record(item.context_expr, env)
            return self.run(s.body, env)
        if isinstance(s, ast.Try):
            paths = self.run(s.body + s.orelse, dict(env))
            paths += [p for h in s.handlers for p in self.run(h.body, dict(env))]
            return [p for e in paths for p in self.run(s.finalbody, e)]
        if isinstance(s, ast.Assign | ast.AnnAssign) and s.value is not None:
            self.record(s.value, env)
            query = self.chain(s.value, env)
            after = dict(env)
            for target in s.targets if isinstance(s, ast.Assign) else [s.target]:
                if isinstance(target, ast.Name):
                    if query is None:
                        after.pop(target.id, None)
                    else:
                        after[target.id] = query
            return [after]
        self.record(s, env)
        return [env]


# The modules whose string constants name collections and fields for every other module.
_SHARED_MODULES = ("contract", "config")


def firestore_queries(repo: Repo) -> list[Query]:
    shared = {k: v for m in _SHARED_MODULES for k, v in _constants(_parse(repo.package / f"{m}.py")).items()}
    shared_constants = tuple(sorted(shared.items()))
    queries: list[Query] = []
    for path in sorted(repo.functions.rglob("*.py")):
        if (repo.package / "local") in path.parents:
            continue  # the local emulator stack never runs in the cloud
        queries += _module_queries(path.read_text(), shared_constants, str(path.relative_to(repo.root)))
    return queries


@functools.lru_cache(maxsize=1024)
def _module_queries(source: str, shared_constants: tuple[tuple[str, str], ...], name: str) -> tuple[Query, ...]:
    if "collection" not in source:
        return ()  # no query starts without .collection() / .collection_group()
    module = _parse_source(source)
    queries: list[Query] = []
    for func in (n for n in ast.walk(module) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        if not any(getattr(c, "attr", "") in _TERMINAL for c in ast.walk(func)):
            continue
        walker = _QueryWalker(module, dict(shared_constants), f"{name}:{func.name}")
        walker.run(func.body, {})
        queries += walker.found
    return tuple(queries)


def check_firestore_indexes(repo: Repo, cfg: tf.Config) -> list[str]:
    problems = []
    composite = {
        (
            str(ix["collection"]),
            str(ix.get("query_scope", "COLLECTION")),
            frozenset(str(f["field_path"]) for f in ix["fields"]),
        ): name
        for name, ix in (cfg.local("firestore_composite_indexes") or {}).items()
    }
    group_fields = {
        (str(f["collection"]), str(f["field"])): name
        for name, f in (cfg.local("firestore_collection_group_fields") or {}).items()
    }
    used: set[object] = set()
    for q in firestore_queries(repo):
        scope = "COLLECTION_GROUP" if q.group else "COLLECTION"
        if not q.group and q.clauses <= 1:
            continue  # one clause on one field: the automatic single-field index serves it
        if "?" in q.fields or q.collection == "?":
            problems.append(f"{q.where}: cannot tell the collection or fields of a query; write them as literals")
            continue
        if q.group and len(q.fields) == 1:
            # Single-field indexes are kept for collection scope only; a collection-group query
            # needs the field's collection-group index enabled.
            key = (q.collection, next(iter(q.fields)))
            if key in group_fields:
                used.add(key)
            else:
                problems.append(
                    f"{q.where}: collection-group query on {q.collection}.{key[1]} needs its collection-group "
                    "index; add it to local.firestore_collection_group_fields (infra/main.tf)"
                )
            continue
        if not (q.needs_composite or (q.group and len(q.fields) > 1)):
            continue
        ckey = (q.collection, scope, frozenset(q.fields))
        if ckey in composite:
            used.add(ckey)
        else:
            problems.append(
                f"{q.where}: query on {q.collection} over {sorted(q.fields)} needs a composite index "
                f"({scope}); add it to local.firestore_composite_indexes (infra/main.tf)"
            )
    declared = [*composite.items(), *group_fields.items()]
    for index, name in declared:
        if index not in used:
            problems.append(f"Firestore index {name} serves no query in the code (it still costs every write)")
    return problems


def env_default(repo: Repo, name: str) -> str | None:
    """The literal default of ``_env(name, "...")`` in config.py."""
    for node in ast.walk(_parse(repo.package / "config.py")):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "_env"
            and len(node.args) == 2
            and _literal(node.args[0]) == name
        ):
            return _literal(node.args[1])
    return None


def check_training_job(repo: Repo, spec: Spec, cfg: tf.Config) -> list[str]:
    """retrain starts the Cloud Run job config.training_job() names: Terraform must create it."""
    wanted = {
        fn.env.get("FASHIONTAG_TRAINING_JOB") or env_default(repo, "FASHIONTAG_TRAINING_JOB")
        for fn in spec.functions.values()
    }
    jobs = {str(name) for _, name in _values(cfg, "google_cloud_run_v2_job", "name")}
    return [
        f"the code starts Cloud Run job {job}, which infra/training.tf does not create"
        for job in sorted(filter(None, wanted))
        if job not in jobs
    ]


# The attribute holding each resource type's name in the cloud: two resources with the same
# name make the second apply fail with "already exists".
CLOUD_NAMES = {
    "google_artifact_registry_repository": "repository_id",
    "google_cloud_run_v2_job": "name",
    "google_cloud_scheduler_job": "name",
    "google_project_iam_custom_role": "role_id",
    "google_pubsub_subscription": "name",
    "google_pubsub_topic": "name",
    "google_service_account": "account_id",
    "google_storage_bucket": "name",
}


def check_unique_names(cfg: tf.Config) -> list[str]:
    problems = []
    for rtype, attribute in CLOUD_NAMES.items():
        seen: dict[str, str] = {}
        for inst in cfg.instances(rtype):
            name = str(cfg.attr(inst, attribute))
            where = f"{rtype}.{inst.label}" + (f"[{inst.key!r}]" if inst.key is not None else "")
            if name in seen:
                problems.append(f"{where} and {seen[name]} both create {rtype.removeprefix('google_')} {name}")
            seen.setdefault(name, where)
    return problems


def check_retrain_schedule(cfg: tf.Config) -> list[str]:
    """Every model the retrain function can train has its daily request, and no other."""
    from fashiontag import retraining

    scheduled = {str(inst.key) for inst in cfg.instances("google_cloud_scheduler_job")}
    trainable = set(retraining.TRAINABLE_MODELS)
    return [
        f"model {m} is trainable but infra/scheduler.tf schedules no retraining for it"
        for m in sorted(trainable - scheduled)
    ] + [
        f"infra/scheduler.tf schedules retraining of {m}, which retrain cannot train"
        for m in sorted(scheduled - trainable)
    ]


# --- Terraform variables and APIs --------------------------------------------------------------------


def check_plan_against_terraform(cfg: tf.Config) -> list[str]:
    problems = []
    passed = set(deploy_plan.terraform_vars(deploy_plan.Target("p", "r", "u", "m", "s", training_image="i")))
    for name in sorted(passed - set(cfg.variables)):
        problems.append(f"the deploy plan passes -var={name}, which infra/variables.tf does not declare")
    for name, block in sorted(cfg.variables.items()):
        if "default" not in block and name not in passed:
            problems.append(f"infra variable {name} has no default and the deploy plan does not pass it")
    for rtype in sorted(cfg.resources):
        api = next((a for prefix, a in RESOURCE_APIS.items() if rtype.startswith(prefix)), None)
        if api is None:
            problems.append(f"{rtype}: no API known for it (add it to RESOURCE_APIS and deploy_plan.APIS)")
        elif api not in deploy_plan.APIS:
            problems.append(f"{rtype} needs {api}, which the deploy plan does not enable")
    return problems


# --- the bundles: reachable imports and requirements ------------------------------------------------


def _module_file(package: Path, dotted: str) -> Path | None:
    parts = dotted.split(".")[1:]
    if not parts:
        return package / "__init__.py"
    rel = Path(*parts)
    for candidate in (package / rel.with_suffix(".py"), package / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Reach:
    """What main.py imports, transitively.

    ``eager``: imported when the function loads (module-level imports of modules that are
    themselves loaded eagerly); these must be installed. ``lazy``: imported inside a function
    body, which runs only if that code path does (``retraining`` imports the Cloud Run client
    only to start a job); not required, but still never TensorFlow nor a left-out package.
    """

    own: set[str]
    eager: set[str]
    lazy: set[str]


@functools.lru_cache(maxsize=1024)
def _imports(source: str) -> tuple[tuple[str, bool], ...]:
    """(dotted name, at module level) for every absolute import in a module's source."""
    module = _parse_source(source)
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, top))
                found.extend((f"{child.module}.{a.name}", top) for a in child.names)
            visit(child, top)

    visit(module, True)
    return tuple(found)


def reachable(repo: Repo, main_py: Path) -> Reach:
    reach = Reach(set(), set(), set())
    todo: list[tuple[Path, bool]] = [(main_py, True)]
    done: dict[Path, bool] = {}
    while todo:
        path, eager = todo.pop()
        if path in done and (done[path] or not eager):
            continue  # already seen at least as eagerly
        done[path] = eager
        for dotted, top in _imports(path.read_text()):
            now = eager and top
            head = dotted.split(".")[0]
            if head == "fashiontag":
                file = _module_file(repo.package, dotted)
                if file is not None:
                    reach.own.add(dotted)
                    todo.append((file, now))
            elif head not in sys.stdlib_module_names and head != "__future__":
                (reach.eager if now else reach.lazy).add(dotted)
    reach.lazy -= reach.eager
    return reach


@functools.cache
def _top_level_dists() -> dict[str, list[str]]:
    return dict(md.packages_distributions())


@functools.cache
def _dist_files(dist: str) -> tuple[str, ...]:
    return tuple(str(f) for f in (md.distribution(dist).files or ()))


AMBIGUOUS = "?"


@functools.cache
def distribution_of(module: str) -> str | None:
    """The installed distribution providing ``module``; None when none does.

    Namespace packages (``google``) are shared by many distributions: the deepest part of the
    dotted name that one distribution's files hold decides; ``AMBIGUOUS`` when none decides.
    """
    candidates = set(_top_level_dists().get(module.split(".")[0], []))
    if len(candidates) <= 1:
        return canonicalize_name(candidates.pop()) if candidates else None
    parts = module.split(".")
    while len(parts) > 1:
        path = "/".join(parts)
        owners = {d for d in candidates if any(f == path + ".py" or f.startswith(path + "/") for f in _dist_files(d))}
        if len(owners) == 1:
            return canonicalize_name(owners.pop())
        if owners:
            return AMBIGUOUS
        parts.pop()
    return AMBIGUOUS


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
    return pins


@functools.cache
def _closure(names: frozenset[str]) -> frozenset[str]:
    """The listed distributions and everything they require (extras off), as installed here."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for spec in requires:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return frozenset(seen)


def _lock_mismatches(repo: Repo, requirements: Path) -> list[str]:
    lock = _pins(repo.root / "requirements.lock")
    where = requirements.relative_to(repo.root)
    return [
        f"{where} pins {name}=={version}, requirements.lock has {lock.get(name)}"
        for name, version in sorted(_pins(requirements).items())
        if lock.get(name) != version
    ]


def _unprovided(who: str, modules: Iterable[str], requirements: Path, repo: Repo) -> list[str]:
    """Third-party modules ``who`` imports that its requirements file does not install."""
    closure = _closure(frozenset(_pins(requirements)))
    problems = []
    for module in sorted(modules):
        dist = distribution_of(module)
        if dist is None:
            problems.append(f"{who}: imports {module}, which no installed distribution provides")
        elif dist != AMBIGUOUS and dist not in closure:
            problems.append(
                f"{who}: imports {module} (from {dist}), which {requirements.relative_to(repo.root)} "
                "neither lists nor gets through a listed package"
            )
    return problems


def check_bundles(repo: Repo, spec: Spec, forbidden: Sequence[str] = ("tensorflow", "keras")) -> list[str]:
    problems = []
    for folder in sorted(set(spec.functions) & repo.function_folders()):
        requirements = repo.functions / folder / "requirements.txt"
        if not requirements.is_file():
            continue
        problems += _lock_mismatches(repo, requirements)
        reach = reachable(repo, repo.functions / folder / "main.py")
        for module in sorted(reach.own):
            if len(parts := module.split(".")) > 1 and parts[1] in EXCLUDED_SUBPACKAGES:
                problems.append(f"{folder}: reaches {module}, which the bundle leaves out")
        for module in sorted(reach.lazy | reach.eager):
            if module.split(".")[0] in forbidden:
                problems.append(f"{folder}: reaches {module}; serving never imports TensorFlow")
        problems += _unprovided(
            folder, (m for m in reach.eager if m.split(".")[0] not in forbidden), requirements, repo
        )
        for name in sorted(_pins(requirements)):
            if name in forbidden or name.startswith("tensorflow"):
                problems.append(f"functions/{folder}/requirements.txt installs {name}")
    return problems


def check_rejected_upload_expiry(repo: Repo, cfg: tf.Config) -> list[str]:
    """on_upload marks rejected uploads with customTime; the upload bucket must expire them."""
    if "custom_time" not in (repo.package / "ingest.py").read_text():
        return []
    for inst in cfg.instances("google_storage_bucket"):
        if inst.label != "uploads":
            continue
        for rule in inst.body.get("lifecycle_rule", []):
            condition = (rule.get("condition") or [{}])[0]
            action = (rule.get("action") or [{}])[0]
            if "days_since_custom_time" in condition and action.get("type") == "Delete":
                return []
    return ["fashiontag.ingest marks rejected uploads (customTime), but the upload bucket has no rule deleting them"]


TRAINING_JOB_MODULE = "fashiontag.training.job"


def check_training_image(repo: Repo) -> list[str]:
    """The training image runs the job retrain launches, with everything the job imports."""
    from fashiontag import retraining

    folder = repo.root / "infra" / "training"
    dockerfile = (folder / "Dockerfile").read_text()
    problems = []
    if f'"-m", "{TRAINING_JOB_MODULE}"' not in dockerfile:
        problems.append(f"infra/training/Dockerfile: the entrypoint must run python -m {TRAINING_JOB_MODULE}")
    if TRAINING_JOB_MODULE not in Path(retraining.__file__).read_text():
        problems.append(f"fashiontag.retraining no longer launches {TRAINING_JOB_MODULE}")
    requirements = folder / "requirements.txt"
    problems += _lock_mismatches(repo, requirements)
    job = _module_file(repo.package, TRAINING_JOB_MODULE)
    if job is None:
        return [*problems, f"{TRAINING_JOB_MODULE} does not exist"]
    reach = reachable(repo, job)
    left_out = [m for m in sorted(reach.own) if m.split(".")[1:2] == ["local"]]
    problems += [f"the training job reaches {m}, which the image leaves out" for m in left_out]
    # The job runs the lazy imports too (TensorFlow inside its functions): all must be there.
    problems += _unprovided("the training image", reach.eager | reach.lazy, requirements, repo)
    return problems


# --- everything -------------------------------------------------------------------------------------


def check_all(root: Path, topology: Topology | None = None) -> list[str]:
    repo = Repo(root)
    topo = topology or Topology.current()
    try:
        spec = repo.spec()
    except SpecError as error:
        return [f"infra/functions.yaml: {error}"]
    cfg = repo.terraform()
    checks: Iterable[list[str]] = (
        check_functions(repo, spec),
        check_settings(spec),
        check_environment(repo, spec),
        check_topics(cfg, topo),
        check_subscriptions(repo, spec, cfg, topo),
        check_poison_uploads(repo, spec),
        check_service_accounts(spec, cfg),
        check_firestore_indexes(repo, cfg),
        check_training_job(repo, spec, cfg),
        check_retrain_schedule(cfg),
        check_unique_names(cfg),
        check_plan_against_terraform(cfg),
        check_bundles(repo, spec),
        check_training_image(repo),
        check_rejected_upload_expiry(repo, cfg),
    )
    return [problem for found in checks for problem in found]
