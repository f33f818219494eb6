# Firestore: the (default) database, the security rules and the composite indexes.
#
# The functions use the server SDK, which is not subject to security rules; the rules govern
# web and mobile clients only: infra/firestore.rules, the per-role rules tested against the
# emulator in tests/e2e/test_firestore_rules.py. Terraform releases that same file.

resource "google_firestore_database" "default" {
  project                 = var.project
  name                    = "(default)"
  location_id             = local.firestore_location
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON" # `terraform destroy` never deletes the data
}

resource "google_firebaserules_ruleset" "firestore" {
  project = var.project

  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/firestore.rules")
    }
  }

  # A ruleset in use by the release cannot be deleted: create the new one first.
  lifecycle {
    create_before_destroy = true
  }

  depends_on = [google_firestore_database.default]
}

resource "google_firebaserules_release" "firestore" {
  project      = var.project
  name         = "cloud.firestore"
  ruleset_name = "projects/${var.project}/rulesets/${google_firebaserules_ruleset.firestore.name}"
}

# Indexes. Firestore indexes every field on its own, for queries on one collection, and those
# automatic single-field indexes serve queries with equality filters only (merged across
# fields when there are several) or one order clause. tests/deploy follows each query the code
# builds, path by path, and fails until an index it needs is declared here (or one declared
# here serves no query). Today:
#   store.list_products, rescoring, retraining, training.data   products  status == / in
#   admin catalogue                       catalogue spec.category ==, ordered by updated_at:
#                                         the composite index below
#   admin review queue                    products  status in, seller_id ==, ordered by
#                                         prediction.category.confidence (with its bounds) or
#                                         created_at: the composite indexes below
#   notifications.device_tokens, admin    users     role ==; device_tokens array-contains
#   admin messages, models view           messages / retrain_runs  from_role ==, from ==, to == |
#                                         ordered by created_at: the composite indexes below
#   admin notifications                   notifications  to in | to ==, ordered by created_at
#   admin live updates (listeners)        products  status in | seller_id ==, ordered by updated_at |
#                                         created_at; notifications, catalogue as above
#   admin review activity                 collection group history, order by at: needs the
#                                         collection-group index of history.at (below)
# Composite indexes, one per entry of local.firestore_composite_indexes:
resource "google_firestore_index" "composite" {
  for_each    = local.firestore_composite_indexes
  project     = var.project
  database    = google_firestore_database.default.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }
}

# Collection-group indexes of single fields, one per entry of local.firestore_collection_group_fields.
# The override replaces the field's automatic indexes, so it lists the collection-scope ones too.
resource "google_firestore_field" "collection_group" {
  for_each   = local.firestore_collection_group_fields
  project    = var.project
  database   = google_firestore_database.default.name
  collection = each.value.collection
  field      = each.value.field

  index_config {
    indexes {
      order = "ASCENDING"
    }
    indexes {
      order = "DESCENDING"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
    indexes {
      order       = "DESCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}

# Rate-limit windows (fashiontag.admin.limits) are deleted once they have expired; no index.
resource "google_firestore_field" "rate_limits_ttl" {
  project    = var.project
  database   = google_firestore_database.default.name
  collection = "rate_limits"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}
