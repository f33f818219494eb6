# One service account per function, holding only the roles its code uses, plus the identity
# that delivers events to functions and the one the training job runs as. The function
# deploys (scripts/deploy_plan.py) name these accounts; tests/deploy checks that every
# account infra/functions.yaml names is created here.
#
# Project-level grants appear only where Google Cloud has no narrower resource: Firestore
# (roles/datastore.user cannot be scoped to a collection) and Eventarc's event receiver.

data "google_storage_project_service_account" "gcs" {
  project = var.project
}

# --- on-upload: reads uploads, writes derived/, records products, publishes product-events,
#     reads the model registry (active version pointer in Firestore, artefacts in the model bucket).

resource "google_service_account" "on_upload" {
  account_id   = "fashiontag-on-upload"
  display_name = "fashiontag on-upload function"
}

resource "google_storage_bucket_iam_member" "on_upload_read_uploads" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.on_upload.email}"
}

# objectUser, not objectCreator: a retried delivery rewrites derived/{product_id}/*, and
# replacing an existing object needs storage.objects.delete as well as create. The condition
# keeps that write access to derived/ (functions never write objects under uploads/).
resource "google_storage_bucket_iam_member" "on_upload_write_derived" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.on_upload.email}"

  condition {
    title       = "derived-only"
    description = "Only objects under derived/"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.uploads.name}/objects/derived/\")"
  }
}

# Marking a rejected upload (its customTime) is an object metadata update. A custom role with
# that one permission, on uploads/ only: on-upload can neither delete nor replace an upload.
resource "google_project_iam_custom_role" "upload_marker" {
  project     = var.project
  role_id     = "fashiontagUploadMarker"
  title       = "fashiontag upload marker"
  description = "Update object metadata (customTime) of rejected uploads"
  permissions = ["storage.objects.update"]
}

resource "google_storage_bucket_iam_member" "on_upload_mark_rejected" {
  bucket = google_storage_bucket.uploads.name
  role   = google_project_iam_custom_role.upload_marker.id
  member = "serviceAccount:${google_service_account.on_upload.email}"

  condition {
    title       = "uploads-only"
    description = "Only objects under uploads/"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.uploads.name}/objects/uploads/\")"
  }
}

resource "google_storage_bucket_iam_member" "on_upload_read_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.on_upload.email}"
}

resource "google_project_iam_member" "on_upload_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.on_upload.email}"
}

resource "google_pubsub_topic_iam_member" "on_upload_publish_product_events" {
  topic  = google_pubsub_topic.topic["product-events"].name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.on_upload.email}"
}

# --- classify: reads the image a caller names (upload bucket only) and the model registry;
#     registers the versions managers load from the models page once it has checked them
#     (fashiontag.model_check: reads and removes staging/, writes models/ in the model bucket).

resource "google_service_account" "classify" {
  account_id   = "fashiontag-classify"
  display_name = "fashiontag classify function"
}

resource "google_storage_bucket_iam_member" "classify_read_uploads" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.classify.email}"
}

resource "google_storage_bucket_iam_member" "classify_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.classify.email}"
}

# The registry's active-version pointer is a Firestore document.
resource "google_project_iam_member" "classify_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.classify.email}"
}

# --- event delivery: Eventarc triggers and Pub/Sub push subscriptions call functions as this
#     account. roles/run.invoker on each function's service is granted by the deploy
#     (gcloud functions add-invoker-policy-binding), because the service only exists after
#     the first deploy and Terraform runs before it.

resource "google_service_account" "trigger" {
  account_id   = "fashiontag-trigger"
  display_name = "fashiontag event delivery (Eventarc, Pub/Sub push)"
}

resource "google_project_iam_member" "trigger_event_receiver" {
  project = var.project
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.trigger.email}"
}

# Pub/Sub mints the OIDC tokens of pushes signed as the trigger account. Projects whose
# Pub/Sub service agent predates April 2021 need this grant; it is harmless on newer ones.
resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  service_account_id = google_service_account.trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Cloud Storage publishes the bucket's object events to Eventarc's Pub/Sub transport as its
# own service agent.
resource "google_project_iam_member" "gcs_agent_pubsub_publisher" {
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

# --- the training job (functions/retrain will start it): reads uploads' derived inputs and
#     verified products, writes new versions into the model registry.

resource "google_service_account" "train" {
  account_id   = "fashiontag-train"
  display_name = "fashiontag training job"
}

resource "google_storage_bucket_iam_member" "train_read_uploads" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.train.email}"
}

resource "google_storage_bucket_iam_member" "train_write_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.train.email}"
}

resource "google_project_iam_member" "train_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.train.email}"
}

# --- notify: reads products and users, writes notifications and push_outbox (Firestore),
#     sends pushes through Firebase Cloud Messaging.

resource "google_service_account" "notify" {
  account_id   = "fashiontag-notify"
  display_name = "fashiontag notify function"
}

resource "google_project_iam_member" "notify_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.notify.email}"
}

# Cloud Messaging has no resource narrower than the project to grant sending on.
resource "google_project_iam_member" "notify_fcm" {
  project = var.project
  role    = "roles/firebasecloudmessaging.admin"
  member  = "serviceAccount:${google_service_account.notify.email}"
}

# --- retrain: records runs in Firestore (retrain_runs, and counts new labels in products),
#     and executes the training job with per-run arguments.

resource "google_service_account" "retrain" {
  account_id   = "fashiontag-retrain"
  display_name = "fashiontag retrain function"
}

resource "google_project_iam_member" "retrain_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.retrain.email}"
}

# Executing a job with argument overrides needs run.jobs.runWithOverrides, which Cloud Run's
# documentation grants through roles/run.developer; granted on this one job only.
resource "google_cloud_run_v2_job_iam_member" "retrain_runs_training" {
  name     = google_cloud_run_v2_job.train.name
  location = google_cloud_run_v2_job.train.location
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.retrain.email}"
}

# --- admin: the admin, seller and buyer pages. Reads and writes products, messages and users
#     (Firestore); publishes product-events (reviews), message-events (messages) and
#     retrain-requests (the retrain button), model-events (promotions from the models page);
#     opens sellers' resumable upload sessions under uploads/ and streams stored photos (upload
#     bucket); serves model reports and model files, deletes versions (model bucket).
#     Verifying an ID token's signature needs no role (Google's public keys); checking that
#     its sessions were not revoked (a role change) reads the account: firebaseauth.viewer.

resource "google_service_account" "admin" {
  account_id   = "fashiontag-admin"
  display_name = "fashiontag admin function"
}

resource "google_project_iam_member" "admin_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.admin.email}"
}

resource "google_project_iam_member" "admin_read_accounts" {
  project = var.project
  role    = "roles/firebaseauth.viewer"
  member  = "serviceAccount:${google_service_account.admin.email}"
}

# model-events: a manager's promotion or rollback from the models page announces it.
resource "google_pubsub_topic_iam_member" "admin_publish" {
  for_each = toset(["product-events", "message-events", "retrain-requests", "model-events"])
  topic    = google_pubsub_topic.topic[each.key].name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.admin.email}"
}

resource "google_storage_bucket_iam_member" "admin_read_uploads" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.admin.email}"
}

# Creating an upload session is creating the object: create only, and only under uploads/.
resource "google_storage_bucket_iam_member" "admin_create_uploads" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.admin.email}"

  condition {
    title       = "uploads-only"
    description = "Only objects under uploads/"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.uploads.name}/objects/uploads/\")"
  }
}

# Reads reports and the model files the browser runs; deleting a version from the models page
# removes its files.
resource "google_storage_bucket_iam_member" "admin_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.admin.email}"
}

# --- reconcile: what on-upload may do (it re-drives uploads through the same code), plus
#     collecting the dead letters: read and acknowledge every dead-letter subscription.

resource "google_service_account" "reconcile" {
  account_id   = "fashiontag-reconcile"
  display_name = "fashiontag reconcile function"
}

resource "google_storage_bucket_iam_member" "reconcile_read_uploads" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.reconcile.email}"
}

resource "google_storage_bucket_iam_member" "reconcile_write_derived" {
  bucket = google_storage_bucket.uploads.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.reconcile.email}"

  condition {
    title       = "derived-only"
    description = "Only objects under derived/"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.uploads.name}/objects/derived/\")"
  }
}

resource "google_storage_bucket_iam_member" "reconcile_mark_rejected" {
  bucket = google_storage_bucket.uploads.name
  role   = google_project_iam_custom_role.upload_marker.id
  member = "serviceAccount:${google_service_account.reconcile.email}"

  condition {
    title       = "uploads-only"
    description = "Only objects under uploads/"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.uploads.name}/objects/uploads/\")"
  }
}

resource "google_storage_bucket_iam_member" "reconcile_read_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.reconcile.email}"
}

resource "google_project_iam_member" "reconcile_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.reconcile.email}"
}

resource "google_pubsub_topic_iam_member" "reconcile_publish_product_events" {
  topic  = google_pubsub_topic.topic["product-events"].name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.reconcile.email}"
}

resource "google_pubsub_subscription_iam_member" "reconcile_collect_dead_letters" {
  for_each     = toset(local.dead_letter_sources)
  subscription = google_pubsub_subscription.dead_letter[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.reconcile.email}"
}
