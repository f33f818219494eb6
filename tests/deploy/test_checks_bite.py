"""The drift checks fail when code and deployment drift: each test breaks a copy one way.

A check that passes on the repository proves nothing unless it fails on a broken one; here
every kind of drift the checks exist for is made on a copy (tmp_path) and must be reported.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from fashiontag.tools.deploy_spec import Spec
from tests.deploy import drift
from tests.deploy.conftest import edit
from tests.deploy.drift.repo import Repo, Topology


def problems(repo: Repo, topology: Topology | None = None) -> list[str]:
    return drift.check_all(repo.root, topology)


def reported(found: list[str], *fragments: str) -> bool:
    return any(all(f in problem for f in fragments) for problem in found)


def test_the_unbroken_copy_passes(copy: Repo) -> None:
    assert problems(copy) == []


def test_a_topic_missing_from_terraform(copy: Repo) -> None:
    edit(
        copy.infra / "main.tf",
        'contract_topics = ["product-events", "model-events",',
        'contract_topics = ["product-events",',
    )
    found = problems(copy)
    assert reported(found, "topic model-events is in fashiontag.topology but not in infra/pubsub.tf")


def test_a_dead_letter_topic_missing_from_terraform(copy: Repo) -> None:
    edit(copy.infra / "main.tf", '"retrain-requests", "upload-bucket-notifications"]', '"retrain-requests"]')
    found = problems(copy)
    assert reported(found, "upload-bucket-notifications-dead-letter", "not in infra/pubsub.tf")


def test_a_topic_only_terraform_has(copy: Repo) -> None:
    edit(copy.infra / "main.tf", '"retrain-requests"]\n', '"retrain-requests", "orphan-events"]\n')
    assert reported(problems(copy), "topic orphan-events is in infra/pubsub.tf but not in fashiontag.topology")


def test_a_renamed_entry_point(copy: Repo) -> None:
    edit(copy.functions / "on_upload" / "main.py", "def on_upload(", "def handle_upload(")
    assert reported(problems(copy), "on_upload: entry point 'on_upload' is not a functions-framework function")


def test_a_trigger_that_does_not_match_the_decorator(copy: Repo) -> None:
    edit(copy.functions / "classify" / "main.py", "@functions_framework.http", "@functions_framework.cloud_event")
    assert reported(problems(copy), "classify: a http trigger delivers to @functions_framework.http")


def test_a_function_folder_nobody_declared(copy: Repo) -> None:
    folder = copy.functions / "search"
    folder.mkdir()
    (folder / "main.py").write_text(
        "import functions_framework\n\n\n@functions_framework.http\ndef search(request):\n    return 'ok'\n"
    )
    assert reported(problems(copy), "functions/search/main.py exists but search is not declared")


def test_a_declared_function_without_code(copy: Repo) -> None:
    (copy.functions / "retrain" / "main.py").unlink()
    assert reported(problems(copy), "declares retrain but functions/retrain/main.py does not exist")


def test_a_new_environment_variable_nobody_listed(copy: Repo) -> None:
    with (copy.package / "config.py").open("a") as f:
        f.write('\n\ndef new_setting() -> str:\n    return _env("FASHIONTAG_NEW_SETTING", "x")\n')
    assert reported(problems(copy), "FASHIONTAG_NEW_SETTING is read at functions/fashiontag/config.py")


def test_a_required_variable_not_set_at_deploy(copy: Repo) -> None:
    edit(copy.infra / "functions.yaml", "      GOOGLE_CLOUD_PROJECT: ${PROJECT}\n", "")
    assert reported(problems(copy), "on_upload: must set GOOGLE_CLOUD_PROJECT at deploy")


def test_a_local_only_variable_set_in_the_cloud(copy: Repo) -> None:
    edit(
        copy.infra / "functions.yaml",
        "      FASHIONTAG_REGION: ${REGION}\n",
        "      FASHIONTAG_REGION: ${REGION}\n      STORAGE_EMULATOR_HOST: http://127.0.0.1:9\n",
    )
    assert reported(problems(copy), "on_upload: sets STORAGE_EMULATOR_HOST, a local-only variable")


def test_a_query_that_needs_a_composite_index(copy: Repo) -> None:
    (copy.package / "listing.py").write_text(
        "from google.cloud import firestore\n\nfrom fashiontag import clients, config\n\n\n"
        "def newest(status: str) -> list:\n"
        "    query = clients.firestore_client().collection(contract.PRODUCTS)\n"
        '    query = query.where(filter=firestore.FieldFilter("status", "==", status))\n'
        '    return list(query.order_by("edited_at").limit(10).stream())\n'
    )
    assert reported(problems(copy), "listing.py:newest", "products", "needs a composite index")
    # Declaring the index fixes it: the check reads infra/main.tf, not a list of its own.
    edit(
        copy.infra / "main.tf",
        "firestore_composite_indexes = {",
        'firestore_composite_indexes = {\n    "products-status-edited" = { collection = "products", fields = [\n'
        '      { field_path = "status", order = "ASCENDING" },\n'
        '      { field_path = "edited_at", order = "DESCENDING" } ] }',
    )
    assert problems(copy) == []


def test_clauses_on_exclusive_branches_are_separate_queries(copy: Repo) -> None:
    (copy.package / "listing.py").write_text(
        "from google.cloud import firestore\n\nfrom fashiontag import clients\n\n\n"
        "def messages(role: str) -> list:\n"
        '    query = clients.firestore_client().collection("messages")\n'
        "    if role:\n"
        '        query = query.where(filter=firestore.FieldFilter("from_role", "==", role))\n'
        "    else:\n"
        '        query = query.order_by("created_at")\n'
        "    return list(query.stream())\n"
    )
    assert problems(copy) == []  # never both clauses at once: no composite index needed


def test_an_index_no_query_uses(copy: Repo) -> None:
    edit(
        copy.infra / "main.tf",
        "firestore_composite_indexes = {",
        'firestore_composite_indexes = {\n    "unused" = { collection = "products", fields = [\n'
        '      { field_path = "a", order = "ASCENDING" }, { field_path = "b", order = "ASCENDING" } ] }',
    )
    assert reported(problems(copy), "Firestore index unused serves no query")


def test_the_review_queue_without_its_confidence_index(copy: Repo) -> None:
    text = (copy.infra / "main.tf").read_text()
    start = text.index('    "products-status-confidence" = {')
    end = text.index('    "products-seller-status-confidence" = {')
    (copy.infra / "main.tf").write_text(text[:start] + text[end:])
    assert reported(problems(copy), "listings.py:_by_confidence", "['prediction.category.confidence', 'status']")


def test_a_collection_group_query_without_its_index(copy: Repo) -> None:
    edit(copy.infra / "main.tf", '"history-at" = { collection = "history", field = "at" }', "")
    assert reported(problems(copy), "collection-group query on history.at")


def test_local_retry_settings_that_the_cloud_does_not_have(copy: Repo, spec: Spec) -> None:
    current = Topology.current()
    target = next(s for s in current.subscriptions if s.target in spec.functions)
    slower = dataclasses.replace(target.retry, maximum_backoff_s=target.retry.maximum_backoff_s + 7)
    changed = tuple(dataclasses.replace(s, retry=slower) if s == target else s for s in current.subscriptions)
    found = problems(copy, dataclasses.replace(current, subscriptions=changed))
    assert reported(found, target.name, "retry_policy.maximum_backoff", f"'{slower.maximum_backoff_s}s'")


def test_the_storage_trigger_drifting_from_its_local_stand_in(copy: Repo) -> None:
    edit(copy.infra / "functions.yaml", "max_delivery_attempts: 10", "max_delivery_attempts: 12")
    assert reported(problems(copy), "on_upload: trigger delivery max_delivery_attempts is 12", "but 10 in topology")


def test_a_topology_subscription_missing_from_terraform(copy: Repo) -> None:
    text = (copy.infra / "main.tf").read_text()
    first = re.search(r'\n    "([a-z-]+)" = \{\n      topic ', text)
    assert first, "no push subscription entry in infra/main.tf"
    end = text.index("    }\n", first.start()) + len("    }\n")
    (copy.infra / "main.tf").write_text(text[: first.start() + 1] + text[end:])
    assert reported(problems(copy), f"subscription {first.group(1)}", "not in local.push_subscriptions")


def test_a_storage_trigger_that_would_drop_failures(copy: Repo) -> None:
    edit(copy.infra / "functions.yaml", "retry: true", "retry: false")
    assert reported(problems(copy), "on_upload: storage trigger without retry")


def test_deliveries_that_end_before_ingest_rejects_a_poison_upload(copy: Repo) -> None:
    edit(copy.package / "ingest.py", "_MAX_ATTEMPTS = 5", "_MAX_ATTEMPTS = 10")
    assert reported(problems(copy), "before ingest rejects a poison upload at attempt 10")


def test_a_service_account_terraform_does_not_create(copy: Repo) -> None:
    edit(copy.infra / "iam.tf", 'account_id   = "fashiontag-notify"', 'account_id   = "fashiontag-notifier"')
    assert reported(problems(copy), "notify: service account fashiontag-notify is not created")


def test_a_storage_trigger_without_eventarc_permissions(copy: Repo) -> None:
    edit(copy.infra / "iam.tf", '"roles/eventarc.eventReceiver"', '"roles/viewer"')
    assert reported(problems(copy), "trigger account fashiontag-trigger lacks eventarc.eventReceiver")


def test_a_training_job_the_code_would_not_find(copy: Repo) -> None:
    edit(copy.infra / "training.tf", 'name                = "fashiontag-train"', 'name                = "train"')
    assert reported(problems(copy), "starts Cloud Run job fashiontag-train, which infra/training.tf does not create")


def test_a_requirement_a_function_imports_but_does_not_install(copy: Repo) -> None:
    edit(copy.functions / "on_upload" / "requirements.txt", "google-cloud-firestore==2.34.1\n", "")
    assert reported(problems(copy), "on_upload: imports google.cloud.firestore", "google-cloud-firestore")


def test_a_requirement_pinned_apart_from_the_lock(copy: Repo) -> None:
    edit(copy.functions / "classify" / "requirements.txt", "numpy==2.4.6", "numpy==2.4.5")
    assert reported(problems(copy), "classify/requirements.txt pins numpy==2.4.5, requirements.lock has 2.4.6")


def test_serving_code_that_reaches_tensorflow(copy: Repo) -> None:
    with (copy.package / "inference.py").open("a") as f:
        f.write("\n\ndef _keras_fallback() -> None:\n    import tensorflow  # noqa: F401\n")
    found = problems(copy)
    assert reported(found, "on_upload: reaches tensorflow; serving never imports TensorFlow")
    assert reported(found, "classify: reaches tensorflow")


def test_a_function_that_reaches_the_left_out_training_package(copy: Repo) -> None:
    with (copy.package / "serving.py").open("a") as f:
        f.write("\n\ndef _train() -> None:\n    from fashiontag.training import category  # noqa: F401\n")
    assert reported(problems(copy), "reaches fashiontag.training", "which the bundle leaves out")


def test_a_variable_the_plan_passes_but_terraform_lacks(copy: Repo) -> None:
    text = (copy.infra / "variables.tf").read_text()
    start = text.index('variable "model_bucket"')
    end = text.index("}\n", start) + 2
    (copy.infra / "variables.tf").write_text(text[:start] + text[end:])
    assert reported(problems(copy), "passes -var=model_bucket, which infra/variables.tf does not declare")


def test_a_malformed_declaration(copy: Repo) -> None:
    edit(copy.infra / "functions.yaml", "    concurrency: 3\n", "    concurency: 3\n")
    assert reported(problems(copy), "unknown keys ['concurency']")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("memory: 512Mi", "memory: 500M", "memory '500M' is not one of"),
        ("timeout_s: 120", "timeout_s: 900", "timeout 900s outside 1..540s"),
        ("public: false", "public: true\n      why_public: x", "a public function needs no invokers or push identity"),
        ("public: false", "public: true", "must say why_public"),
        ("name: on-upload", "name: on_upload", "is not a valid 2nd gen name"),
    ],
)
def test_settings_2nd_gen_would_refuse(copy: Repo, old: str, new: str, message: str) -> None:
    edit(copy.infra / "functions.yaml", old, new)
    assert reported(problems(copy), message)


def test_the_copy_is_a_copy(copy: Repo, repo: Repo) -> None:
    # The breakages above must never reach the repository itself: the copy lies outside it,
    # and breaking a file of the copy leaves the repository's file as it was.
    assert not copy.root.resolve().is_relative_to(repo.root.resolve())
    original = (repo.infra / "main.tf").read_text()
    edit(copy.infra / "main.tf", 'trainable_models = ["category", "attributes-trouser"]', "broken")
    assert (repo.infra / "main.tf").read_text() == original
    assert (copy.infra / "main.tf").read_text() != original


def test_a_trainable_model_without_its_schedule(copy: Repo) -> None:
    edit(
        copy.infra / "main.tf",
        'trainable_models = ["category", "attributes-trouser"]',
        'trainable_models = ["category"]',
    )
    assert reported(problems(copy), "attributes-trouser is trainable", "schedules no retraining")


def test_the_training_image_without_a_package_the_job_imports(copy: Repo) -> None:
    edit(copy.root / "infra" / "training" / "requirements.txt", "matplotlib==3.11.2\n", "")
    assert reported(problems(copy), "the training image: imports matplotlib", "infra/training/requirements.txt")


def test_a_training_image_that_runs_something_else(copy: Repo) -> None:
    edit(copy.root / "infra" / "training" / "Dockerfile", '"fashiontag.training.job"', '"fashiontag.tools.cli"')
    assert reported(problems(copy), "Dockerfile: the entrypoint must run python -m fashiontag.training.job")


def test_rejected_uploads_that_never_expire(copy: Repo) -> None:
    edit(copy.infra / "storage.tf", "days_since_custom_time = var.rejected_upload_retention_days", "age = 3650")
    assert reported(problems(copy), "marks rejected uploads", "no rule deleting them")


def test_two_resources_with_one_cloud_name(copy: Repo) -> None:
    with (copy.infra / "main.tf").open("a") as tf_file:
        tf_file.write('\nresource "google_artifact_registry_repository" "again" {\n  repository_id = "fashiontag"\n}\n')
    assert reported(problems(copy), "both create artifact_registry_repository fashiontag")
