# Pub/Sub: the same topics, dead-letter topics and subscription settings as the local stack
# (fashiontag.topology); tests/deploy compares the two.

resource "google_pubsub_topic" "topic" {
  for_each = toset(local.contract_topics)
  name     = each.key
  labels   = local.labels
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = toset(local.dead_letter_sources)
  name     = "${each.key}-dead-letter"
  labels   = local.labels
}

# A topic without a subscription drops what it receives: each dead-letter topic gets one that
# keeps messages for the maximum 7 days (the local stack does the same with "<topic>-sub").
resource "google_pubsub_subscription" "dead_letter" {
  for_each                   = toset(local.dead_letter_sources)
  name                       = "${each.key}-dead-letter-sub"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  labels                     = local.labels

  expiration_policy {
    ttl = "" # never expire, however long nothing fails
  }
}

# Dead-lettering is done by the Pub/Sub service agent: it must publish to the dead-letter topic
# (and read the source subscription, granted below and, for Eventarc's, by the deploy).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = toset(local.dead_letter_sources)
  topic    = google_pubsub_topic.dead_letter[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

# Push subscriptions into functions. The functions are private HTTP endpoints; Pub/Sub signs
# each push with an OIDC token of the trigger service account, which may invoke them (the
# deploy grants it roles/run.invoker on each). The endpoint is the function's deterministic
# Cloud Run URL (https://SERVICE-PROJECT_NUMBER.REGION.run.app; a 2nd gen function's service
# has the function's name), so it is known before the first deploy. Its path carries the
# topic, which functions-framework needs to turn the push body into a CloudEvent (the same
# shape the local stack uses).
resource "google_pubsub_subscription" "push" {
  for_each             = local.push_subscriptions
  name                 = each.key
  topic                = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds = each.value.ack_deadline_s
  labels               = local.labels

  push_config {
    push_endpoint = "https://${each.value.function}-${data.google_project.this.number}.${var.region}.run.app/projects/${var.project}/topics/${each.value.topic}"
    oidc_token {
      service_account_email = google_service_account.trigger.email
      audience              = "https://${each.value.function}-${data.google_project.this.number}.${var.region}.run.app"
    }
  }

  retry_policy {
    minimum_backoff = "${each.value.min_backoff_s}s"
    maximum_backoff = "${each.value.max_backoff_s}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.topic].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription_iam_member" "push_dead_letter_subscriber" {
  for_each     = local.push_subscriptions
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
