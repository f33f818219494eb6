output "upload_bucket" {
  value = google_storage_bucket.uploads.name
}

output "model_bucket" {
  value = google_storage_bucket.models.name
}

output "function_service_accounts" {
  value = {
    on_upload = google_service_account.on_upload.email
    classify  = google_service_account.classify.email
    notify    = google_service_account.notify.email
    retrain   = google_service_account.retrain.email
    admin     = google_service_account.admin.email
  }
}

output "trigger_service_account" {
  value = google_service_account.trigger.email
}

output "training_job" {
  value = google_cloud_run_v2_job.train.name
}
