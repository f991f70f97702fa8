# The dead-letter queue collects everything that failed for good, whatever the delivery mode:
#   s3          the S3 notification (redrive policy of the notifications queue, s3.tf);
#   eventbridge the CloudTrail event (the function's asynchronous-invocation DLQ, and the rule
#               target's DLQ when EventBridge itself cannot invoke the function);
#   kinesis     a description of the failed batch: shard, sequence numbers (on-failure
#               destination of the event source mapping; the records stay in the stream).
# An alarm fires as soon as it holds a message (alarms.tf).

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.function_name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = local.use_eventbridge ? [1] : []
    content {
      sid       = "EventBridgeRuleDeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.dlq.arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.cloudtrail[0].arn]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}
