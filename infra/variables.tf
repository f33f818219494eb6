variable "project" {
  type        = string
  description = "Google Cloud project id."
}

variable "region" {
  type        = string
  description = "Region of the functions, buckets, scheduler job and training job. The upload bucket must be in the functions' region: Eventarc's Cloud Storage trigger lives where the bucket is."
}

variable "upload_bucket" {
  type        = string
  default     = ""
  description = "Upload bucket; empty means PROJECT-uploads, the code's own default (fashiontag.config.upload_bucket)."
}

variable "extra_upload_origins" {
  type        = list(string)
  default     = []
  description = "Further web origins (a custom domain of the admin page) allowed to upload into the upload bucket."
}

variable "model_bucket" {
  type        = string
  default     = ""
  description = "Model registry bucket; empty means PROJECT-models, the code's own default (fashiontag.config.model_bucket)."
}

variable "firestore_location" {
  type        = string
  default     = ""
  description = "Location of the (default) Firestore database; empty means the region. It cannot be changed once the database exists."
}

variable "retrain_schedule" {
  type        = string
  default     = "0 3 * * *"
  description = "Cron schedule of the retraining request (daily at 03:00 by default)."
}

variable "reconcile_schedule" {
  type        = string
  default     = "*/5 * * * *"
  description = "Cron schedule of the reconciler (every 5 minutes by default)."
}

variable "noncurrent_upload_retention_days" {
  type        = number
  default     = 30
  description = "Days an earlier version of an upload (replaced or deleted) is kept before it is deleted."
}

variable "retrain_min_new_labels" {
  type        = number
  default     = 20
  description = "A scheduled retraining run trains only when this many verified labels are new since the active version."
}

variable "retrain_time_zone" {
  type        = string
  default     = "Etc/UTC"
  description = "Time zone of retrain_schedule."
}

variable "training_image" {
  type        = string
  description = "Container image of the training job (infra/training/Dockerfile), pushed to the fashiontag Artifact Registry repository by the deploy before the job is applied; scripts/deploy_plan.py passes it."
}

variable "rejected_upload_retention_days" {
  type        = number
  default     = 30
  description = "Days a rejected upload is kept after on-upload rejected it (its customTime); then the upload bucket's lifecycle rule deletes it."
}
