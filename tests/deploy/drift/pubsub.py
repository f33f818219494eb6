"""Pub/Sub: fashiontag.topology against infra/*.tf and the storage trigger (topics, dead letters,
retry and dead-letter settings of every subscription)."""

from __future__ import annotations

import ast

from fashiontag import topology as real_topology
from fashiontag.tools.deploy_spec import Function, Spec
from tests.deploy import terraform as tf
from tests.deploy.drift.repo import Repo, Topology, attr_values, parse

STORAGE_BRIDGE = "storage_bridge"  # the local stand-in for Eventarc's delivery to on_upload
_VAR_PROJECT = "<var.project>"  # how the reader renders var.project, which has no default


def check_topics(cfg: tf.Config, topo: Topology) -> list[str]:
    problems = []
    cloud = {str(name) for _, name in attr_values(cfg, "google_pubsub_topic", "name")}
    expected = set(topo.topics) | {topo.dead_letter(t) for t in topo.topics}
    # The storage bridge's topic is local only (Eventarc carries those events in the cloud),
    # but its dead-letter topic is where on-upload's undeliverable events go in both places.
    expected |= {s.dead_letter_topic for s in topo.subscriptions}
    for topic in sorted(expected - cloud):
        problems.append(f"topic {topic} is in fashiontag.topology but not in infra/pubsub.tf")
    for topic in sorted(cloud - expected):
        problems.append(f"topic {topic} is in infra/pubsub.tf but not in fashiontag.topology")
    subscribed = {str(t) for _, t in attr_values(cfg, "google_pubsub_subscription", "topic")}
    names = {str(n) for _, n in attr_values(cfg, "google_pubsub_subscription", "name")}
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
    for node in parse(repo.package / "ingest.py").body:
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
