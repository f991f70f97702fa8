# State of stateful rules (rules with `count`, `distinct`, `first_seen` or `sequence`; see
# docs/language.md "Stateful rules"), shared by every concurrent invocation: CTRULES_STATE_TABLE.
# Keyed by `pk` (string): one item per (rule, key, window) and one per alert claim, written with
# atomic set additions and conditional puts; items expire through the `expires_at` TTL a day
# after their window. On-demand billing: one write per (rule, key, window) a batch touches — see
# docs/consumer.md "Stateful rules" for the cost per million events.

resource "aws_dynamodb_table" "state" {
  #checkov:skip=CKV_AWS_28:Short-lived counters that expire by TTL; a restore would bring back stale windows.
  #checkov:skip=CKV_AWS_119:Holds rule names, keys (principal ARNs, addresses) and event ids; encrypted at rest with the AWS managed key aws/dynamodb.
  count        = var.create_state_table ? 1 : 0
  name         = "${var.function_name}-state"
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

# Least privilege: the four item-level calls the store makes, on this table only (no Scan, no
# Query, no table management).
data "aws_iam_policy_document" "state" {
  count = var.create_state_table ? 1 : 0

  statement {
    sid = "UseStateTable"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ]
    resources = [aws_dynamodb_table.state[0].arn]
  }
}

resource "aws_iam_role_policy" "state" {
  count  = var.create_state_table ? 1 : 0
  name   = "${var.function_name}-state"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.state[0].json
}

output "state_table_name" {
  description = "Name of the DynamoDB table holding the state of stateful rules, if created."
  value       = var.create_state_table ? aws_dynamodb_table.state[0].name : null
}
