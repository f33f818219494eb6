# The retraining schedule: a daily request per trainable model on retrain-requests, shaped like
# fashiontag.retraining.request() publishes it (JSON with a "type", the same "type" as an
# attribute). functions/retrain records it and starts the training job; a scheduled request
# trains only when at least var.retrain_min_new_labels verified labels are new since the
# active version, so an idle day costs one function call, not a training run.
# Scheduler sets no request_id or event_id: retrain falls back on the Pub/Sub message id,
# which stays the same across redeliveries of one run.
resource "google_cloud_scheduler_job" "retrain" {
  for_each    = toset(local.trainable_models)
  name        = "fashiontag-retrain-${each.key}"
  description = "Daily retraining request for ${each.key} (functions/retrain builds the data set and starts fashiontag-train)"
  region      = var.region
  schedule    = var.retrain_schedule
  time_zone   = var.retrain_time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topic["retrain-requests"].id
    data = base64encode(jsonencode({
      type           = "retrain.requested"
      model          = each.key
      requested_by   = "cloud-scheduler"
      reason         = "schedule"
      min_new_labels = var.retrain_min_new_labels
    }))
    attributes = {
      type = "retrain.requested"
    }
  }
}

# The reconciler (functions/reconcile, fashiontag.reconciler): every few minutes it re-drives
# uploads that have no finished product once Eventarc's retries are over, and collects dead
# letters. Called over HTTP with an OIDC token of the trigger account, which the deploy makes
# an invoker of reconcile (scripts/deploy_plan.py); the URL is the function's Cloud Run service.
resource "google_cloud_scheduler_job" "reconcile" {
  name             = "fashiontag-reconcile"
  description      = "Re-drive uploads without a finished product; collect dead letters (functions/reconcile)"
  region           = var.region
  schedule         = var.reconcile_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "540s"

  http_target {
    http_method = "POST"
    uri         = "https://reconcile-${data.google_project.this.number}.${var.region}.run.app/"

    oidc_token {
      service_account_email = google_service_account.trigger.email
      audience              = "https://reconcile-${data.google_project.this.number}.${var.region}.run.app"
    }
  }
}
