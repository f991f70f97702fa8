# Optional tables, both keyed by `pk` (string) with items expiring through the `expires_at` TTL
# attribute, as the runtime expects (CTRULES_DEDUP_TABLE, CTRULES_SLACK_THREAD_TABLE):
#   dedup   at-most-once delivery per (rule, eventID) across retries, redelivered files and
#           delivery modes (an event seen through EventBridge and later in its S3 file alerts once);
#   threads later alerts of a group reply in the first message's Slack thread (bot-token mode).
# On-demand billing: a few writes per alert, cents per month at alerting volumes.

resource "aws_dynamodb_table" "dedup" {
  #checkov:skip=CKV_AWS_28:Short-lived claims that expire by TTL; a restore would bring back nothing worth having.
  #checkov:skip=CKV_AWS_119:Holds rule names and CloudTrail event ids only; encrypted at rest with the AWS managed key aws/dynamodb.
  count        = var.create_dedup_table ? 1 : 0
  name         = "${var.function_name}-dedup"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "threads" {
  #checkov:skip=CKV_AWS_28:Thread pointers that expire by TTL; losing them only starts new top-level Slack messages.
  #checkov:skip=CKV_AWS_119:Holds Slack channel ids and message timestamps only; encrypted at rest with the AWS managed key aws/dynamodb.
  count        = local.create_thread_table ? 1 : 0
  name         = "${var.function_name}-threads"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}
