"""Terraform against what the code and the deploy plan expect: the training job, schedules,
unique cloud names, variables and APIs, the upload bucket's lifecycle."""

from __future__ import annotations

from fashiontag.tools.deploy_spec import Spec
from scripts import deploy_plan
from tests.deploy import terraform as tf
from tests.deploy.drift.environment import env_default
from tests.deploy.drift.repo import Repo, attr_values

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


def check_training_job(repo: Repo, spec: Spec, cfg: tf.Config) -> list[str]:
    """retrain starts the Cloud Run job config.training_job() names: Terraform must create it."""
    wanted = {
        fn.env.get("FASHIONTAG_TRAINING_JOB") or env_default(repo, "FASHIONTAG_TRAINING_JOB")
        for fn in spec.functions.values()
    }
    jobs = {str(name) for _, name in attr_values(cfg, "google_cloud_run_v2_job", "name")}
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

    scheduled = {str(inst.key) for inst in cfg.instances("google_cloud_scheduler_job") if inst.label == "retrain"}
    trainable = set(retraining.TRAINABLE_MODELS)
    return [
        f"model {m} is trainable but infra/scheduler.tf schedules no retraining for it"
        for m in sorted(trainable - scheduled)
    ] + [
        f"infra/scheduler.tf schedules retraining of {m}, which retrain cannot train"
        for m in sorted(scheduled - trainable)
    ]


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
