terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }

  # State lives in a bucket created once by hand (docs/deploy.md). Its name comes from
  # `terraform init -backend-config=bucket=...`, so this file names no project.
  backend "gcs" {}
}

provider "google" {
  project = var.project
  region  = var.region
}
