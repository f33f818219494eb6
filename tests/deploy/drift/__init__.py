"""Drift checks between the code and its deployment: each returns the problems it finds.

The checks read a repository tree (the real one, or a modified copy in a test) and compare:
- functions/*/main.py          with infra/functions.yaml (declared, entry point, decorator)
- fashiontag.topology          with infra/*.tf and the storage trigger (topics, dead letters,
                               retry and dead-letter settings of every subscription)
- environment reads in the code with the environment catalogue and each function's env
- Firestore queries in the code with the composite indexes in infra/firestore.tf
- imports reachable from each main.py with the function's own requirements.txt
- the deploy plan's Terraform variables and APIs with infra/*.tf

One module per concern (repo: what they read; functions, environment, pubsub, firestore,
infra, bundles); ``check_all`` runs them all, as the bite tests do on broken copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fashiontag.tools.deploy_spec import SpecError
from tests.deploy.drift import bundles, environment, firestore, functions, infra, pubsub
from tests.deploy.drift.repo import Repo, Topology


def check_all(root: Path, topology: Topology | None = None) -> list[str]:
    repo = Repo(root)
    topo = topology or Topology.current()
    try:
        spec = repo.spec()
    except SpecError as error:
        return [f"infra/functions.yaml: {error}"]
    cfg = repo.terraform()
    checks: Iterable[list[str]] = (
        functions.check_functions(repo, spec),
        functions.check_settings(spec),
        environment.check_environment(repo, spec),
        pubsub.check_topics(cfg, topo),
        pubsub.check_subscriptions(repo, spec, cfg, topo),
        pubsub.check_poison_uploads(repo, spec),
        functions.check_service_accounts(spec, cfg),
        firestore.check_firestore_indexes(repo, cfg),
        infra.check_training_job(repo, spec, cfg),
        infra.check_retrain_schedule(cfg),
        infra.check_unique_names(cfg),
        infra.check_plan_against_terraform(cfg),
        bundles.check_bundles(repo, spec),
        bundles.check_training_image(repo),
        infra.check_rejected_upload_expiry(repo, cfg),
    )
    return [problem for found in checks for problem in found]
