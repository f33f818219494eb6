# fashiontag on Google Cloud: everything except the functions themselves, which Cloud Build
# deploys from infra/functions.yaml (scripts/deploy_plan.py). tests/deploy parses these files
# and fails when they drift from the code (fashiontag.topology, config, store) or from
# infra/functions.yaml; keep for_each over locals and plain references so it can read them.

locals {
  upload_bucket      = coalesce(var.upload_bucket, "${var.project}-uploads")
  model_bucket       = coalesce(var.model_bucket, "${var.project}-models")
  firestore_location = coalesce(var.firestore_location, var.region)

  # fashiontag.retraining.TRAINABLE_MODELS: each gets its daily retraining request.
  trainable_models = ["category", "attributes-trouser"]

  labels = { app = "fashiontag" }

  # The Pub/Sub topics of the data contract: exactly fashiontag.topology.TOPICS.
  contract_topics = ["product-events", "model-events", "message-events", "retrain-requests"]

  # Every topic that gets a "<topic>-dead-letter" topic: the contract topics, and the local
  # stack's upload-bucket-notifications, whose cloud counterpart is the subscription Eventarc
  # creates for on-upload (only its dead-letter topic exists here; the deploy attaches it).
  dead_letter_sources = ["product-events", "model-events", "message-events", "retrain-requests", "upload-bucket-notifications"]

  # Push subscriptions to deployed functions: one entry per fashiontag.topology.LOCAL_SUBSCRIPTIONS
  # entry whose target function is deployed, with the same settings (tests/deploy compares them).
  push_subscriptions = {
    "product-events-notify" = {
      topic                 = "product-events"
      function              = "notify"
      ack_deadline_s        = 60
      min_backoff_s         = 1
      max_backoff_s         = 60
      max_delivery_attempts = 10
    }
    "model-events-notify" = {
      topic                 = "model-events"
      function              = "notify"
      ack_deadline_s        = 60
      min_backoff_s         = 1
      max_backoff_s         = 60
      max_delivery_attempts = 10
    }
    "message-events-notify" = {
      topic                 = "message-events"
      function              = "notify"
      ack_deadline_s        = 60
      min_backoff_s         = 1
      max_backoff_s         = 60
      max_delivery_attempts = 10
    }
    "model-events-classify" = {
      topic                 = "model-events"
      function              = "classify"
      ack_deadline_s        = 60
      min_backoff_s         = 1
      max_backoff_s         = 60
      max_delivery_attempts = 10
    }
    "product-events-retrain" = {
      topic                 = "product-events"
      function              = "retrain"
      ack_deadline_s        = 60
      min_backoff_s         = 1
      max_backoff_s         = 60
      max_delivery_attempts = 10
    }
    "retrain-requests-retrain" = {
      topic                 = "retrain-requests"
      function              = "retrain"
      ack_deadline_s        = 60
      min_backoff_s         = 10
      max_backoff_s         = 300
      max_delivery_attempts = 5
    }
  }

  # Composite indexes the code's queries need (see firestore.tf): the admin review queue, which
  # lets Firestore order products by confidence (lowest first) or by date, per status and
  # seller, and the buyers' catalogue (newest first).
  firestore_composite_indexes = {
    "products-status-confidence" = { collection = "products", fields = [
      { field_path = "status", order = "ASCENDING" },
      { field_path = "prediction.category.confidence", order = "ASCENDING" },
    ] }
    "products-seller-status-confidence" = { collection = "products", fields = [
      { field_path = "seller_id", order = "ASCENDING" },
      { field_path = "status", order = "ASCENDING" },
      { field_path = "prediction.category.confidence", order = "ASCENDING" },
    ] }
    "products-status-created" = { collection = "products", fields = [
      { field_path = "status", order = "ASCENDING" },
      { field_path = "created_at", order = "DESCENDING" },
    ] }
    "products-seller-status-created" = { collection = "products", fields = [
      { field_path = "seller_id", order = "ASCENDING" },
      { field_path = "status", order = "ASCENDING" },
      { field_path = "created_at", order = "DESCENDING" },
    ] }
    "products-seller-created" = { collection = "products", fields = [
      { field_path = "seller_id", order = "ASCENDING" },
      { field_path = "created_at", order = "DESCENDING" },
    ] }
    # The managers' live updates (admin.live): the open products changed most recently.
    "products-status-updated" = { collection = "products", fields = [
      { field_path = "status", order = "ASCENDING" },
      { field_path = "updated_at", order = "DESCENDING" },
    ] }
    # The buyers' catalogue (the published view), newest first, of one category.
    "catalogue-category-updated" = { collection = "catalogue", fields = [
      { field_path = "spec.category", order = "ASCENDING" },
      { field_path = "updated_at", order = "DESCENDING" },
    ] }
    # Notifications of one person (to their uid or their role), newest first, a page at a time.
    "notifications-to-created" = { collection = "notifications", fields = [
      { field_path = "to", order = "ASCENDING" },
      { field_path = "created_at", order = "DESCENDING" },
    ] }
    # Messages, newest first: from one role (managers' filter), from or to one person.
    "messages-from-role-created" = { collection = "messages", fields = [
      { field_path = "from_role", order = "ASCENDING" },
      { field_path = "created_at", order = "DESCENDING" },
    ] }
    "messages-from-created" = { collection = "messages", fields = [
      { field_path = "from", order = "ASCENDING" },
      { field_path = "created_at", order = "DESCENDING" },
    ] }
    "messages-to-created" = { collection = "messages", fields = [
      { field_path = "to", order = "ASCENDING" },
      { field_path = "created_at", order = "DESCENDING" },
    ] }
  }

  # Fields whose collection-group index a collection-group query needs (see firestore.tf).
  firestore_collection_group_fields = {
    "history-at" = { collection = "history", field = "at" } # admin review: recent activity across products
  }

  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

data "google_project" "this" {
  project_id = var.project
}

