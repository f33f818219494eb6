# The upload bucket: sellers write uploads/{seller_id}/{file}; on-upload writes derived/{product_id}/.
#
# Lifecycle rules cannot read a product's status in Firestore, so on-upload marks a rejected
# upload itself: it sets the object's customTime when it rejects it (fashiontag.ingest), and
#   - rejected uploads are deleted var.rejected_upload_retention_days after that (long enough
#     for a seller or a manager to look at what was wrong); classified uploads never get a
#     customTime and stay;
#   - abort multipart uploads left incomplete for a day (they are billed, and never finish);
#   - versioned: upload names are unique and written with ifGenerationMatch=0, so nothing of
#     ours replaces an upload; should anything else replace or delete one, the earlier version
#     stays readable (a product keeps the generation it was made from) for
#     var.noncurrent_upload_retention_days, then goes (docs/decisions/0014).
resource "google_storage_bucket" "uploads" {
  name                        = local.upload_bucket
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true # needed for the IAM condition that limits on-upload's writes to derived/
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_upload_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_custom_time = var.rejected_upload_retention_days
      matches_prefix         = ["uploads/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  # Sellers' browsers upload straight into the resumable sessions the admin function opens:
  # the admin page's origins (its Cloud Run and cloudfunctions.net URLs) may PUT here.
  cors {
    origin = concat([
      "https://admin-${data.google_project.this.number}.${var.region}.run.app",
      "https://${var.region}-${var.project}.cloudfunctions.net",
    ], var.extra_upload_origins)
    method          = ["PUT", "POST", "OPTIONS"]
    response_header = ["Content-Type", "Content-Range", "Location", "X-Goog-Resumable"]
    max_age_seconds = 3600
  }
}

# The model registry: models/{model_name}/{version}/. Versioned, so an overwritten artefact
# of a released version can be recovered; old noncurrent copies go after 90 days.
resource "google_storage_bucket" "models" {
  name                        = local.model_bucket
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 90
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
}
