# The training job. functions/retrain orchestrates it: for each request it records a run in
# retrain_runs/{request_id} and executes this job with the arguments ["--run", REQUEST_ID]
# (fashiontag.retraining._launch_cloud_run); the job builds the data set, trains, evaluates
# candidate and active version on the frozen set, registers the candidate and promotes it only
# through the gate. Its image is infra/training/Dockerfile (entrypoint
# `python -m fashiontag.training.job`), built and pushed into the repository below by the
# deploy before this job is applied (scripts/deploy_plan.py). Locally the same job runs as a
# subprocess.
resource "google_artifact_registry_repository" "images" {
  repository_id = "fashiontag"
  location      = var.region
  format        = "DOCKER"
  description   = "fashiontag container images: the training job"
  labels        = local.labels

  # One image per deploy; the last ten are enough to roll the training job back.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-older"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }
}

resource "google_cloud_run_v2_job" "train" {
  name                = "fashiontag-train"
  location            = var.region
  deletion_protection = false
  labels              = local.labels

  template {
    task_count = 1

    template {
      service_account = google_service_account.train.email
      timeout         = "3600s"
      max_retries     = 1

      containers {
        image = var.training_image

        resources {
          limits = {
            cpu    = "4"
            memory = "8Gi"
          }
        }

        env {
          name  = "GOOGLE_CLOUD_PROJECT"
          value = var.project
        }
        env {
          name  = "FASHIONTAG_UPLOAD_BUCKET"
          value = google_storage_bucket.uploads.name
        }
        env {
          name  = "FASHIONTAG_MODEL_BUCKET"
          value = google_storage_bucket.models.name
        }
      }
    }
  }
}
