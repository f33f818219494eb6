"""The code and its deployment agree: each test is one drift check run on the repository.

A failure message says what drifted and where to fix it. tests/deploy/test_checks_bite.py
shows each check failing on a deliberately broken copy.
"""

from __future__ import annotations

from fashiontag.tools.deploy_spec import Spec
from tests.deploy import terraform as tf
from tests.deploy.drift import bundles, environment, firestore, functions, infra, pubsub
from tests.deploy.drift.repo import Repo, Topology


def test_every_function_folder_is_declared_with_its_entry_point_and_trigger(repo: Repo, spec: Spec) -> None:
    assert functions.check_functions(repo, spec) == []


def test_declared_functions_are_valid_2nd_gen_functions(spec: Spec) -> None:
    assert functions.check_settings(spec) == []


def test_every_environment_variable_the_code_reads_is_listed_and_set_where_needed(repo: Repo, spec: Spec) -> None:
    assert environment.check_environment(repo, spec) == []


def test_cloud_topics_and_dead_letter_topics_equal_the_local_topology(cfg: tf.Config) -> None:
    assert pubsub.check_topics(cfg, Topology.current()) == []


def test_cloud_subscriptions_have_the_local_retry_and_dead_letter_settings(
    repo: Repo, spec: Spec, cfg: tf.Config
) -> None:
    assert pubsub.check_subscriptions(repo, spec, cfg, Topology.current()) == []


def test_upload_deliveries_outlast_ingests_own_attempts(repo: Repo, spec: Spec) -> None:
    assert pubsub.check_poison_uploads(repo, spec) == []


def test_service_accounts_exist_and_the_storage_trigger_can_deliver(spec: Spec, cfg: tf.Config) -> None:
    assert functions.check_service_accounts(spec, cfg) == []


def test_every_firestore_query_has_the_index_it_needs(repo: Repo, cfg: tf.Config) -> None:
    assert firestore.check_firestore_indexes(repo, cfg) == []


def test_the_training_job_the_code_starts_exists(repo: Repo, spec: Spec, cfg: tf.Config) -> None:
    assert infra.check_training_job(repo, spec, cfg) == []


def test_the_plan_passes_what_terraform_needs_and_enables_every_api(cfg: tf.Config) -> None:
    assert infra.check_plan_against_terraform(cfg) == []


def test_each_bundle_installs_what_its_code_imports_and_no_tensorflow(repo: Repo, spec: Spec) -> None:
    assert bundles.check_bundles(repo, spec) == []


def test_the_checker_sees_the_queries_and_reads_it_must_see(repo: Repo) -> None:
    # Guards the checks themselves: an AST walk that silently found nothing would pass everything.
    queries = [q for q in firestore.firestore_queries(repo) if q.where.endswith("products.py:list_products")]
    assert [(q.collection, q.filters) for q in queries] == [("products", (("status", "=="),))]
    reads = environment.env_reads(repo.package / "config.py")
    assert {"GOOGLE_CLOUD_PROJECT", "FASHIONTAG_UPLOAD_BUCKET", "FASHIONTAG_MODELS_ROOT"} <= set(reads)
    reach = bundles.reachable(repo, repo.functions / "on_upload" / "main.py")
    assert {"fashiontag.ingest", "fashiontag.products"} <= reach.own
    assert "google.cloud.firestore" in reach.eager


def test_the_terraform_reader_evaluates_what_the_checks_compare(cfg: tf.Config) -> None:
    topics = {cfg.attr(i, "name") for i in cfg.instances("google_pubsub_topic")}
    assert "product-events-dead-letter" in topics
    assert cfg.local("upload_bucket") == "<var.project>-uploads"
    derived = next(i for i in cfg.instances("google_storage_bucket_iam_member") if i.label == "on_upload_write_derived")
    assert cfg.attr(derived, "condition.expression").endswith('/objects/derived/")')
