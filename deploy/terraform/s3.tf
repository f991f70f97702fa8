# "s3" delivery mode: CloudTrail writes a log file -> S3 ObjectCreated notification -> (SNS topic)
# -> SQS queue -> Lambda event source mapping. The queue decouples Slack's rate limits from
# CloudTrail's bursts, retries a failed file alone (partial batch responses), and after
# sqs_max_receive_count attempts moves the notification to the dead-letter queue, where it can be
# inspected and redriven. Both queues are encrypted (SSE-SQS) and refuse plain-HTTP access.

resource "aws_sqs_queue" "notifications" {
  count = local.use_s3 ? 1 : 0

  name = "${var.function_name}-notifications"
  # AWS's guidance for Lambda sources: at least six times the function timeout, so a message
  # is not redelivered while a (retried) invocation still works on it.
  visibility_timeout_seconds = 6 * var.lambda_timeout_seconds
  message_retention_seconds  = 345600
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.sqs_max_receive_count
  })

  tags = var.tags
}

data "aws_iam_policy_document" "notifications_queue" {
  count = local.use_s3 ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.notifications[0].arn]
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
    for_each = local.use_sns_topic ? [] : [1]
    content {
      sid       = "CloudTrailBucketNotifies"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.notifications[0].arn]
      principals {
        type        = "Service"
        identifiers = ["s3.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [local.bucket_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.bucket_account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = local.use_sns_topic ? [1] : []
    content {
      sid       = "FanOutTopicDelivers"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.notifications[0].arn]
      principals {
        type        = "Service"
        identifiers = ["sns.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [local.sns_topic_arn]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "notifications" {
  count     = local.use_s3 ? 1 : 0
  queue_url = aws_sqs_queue.notifications[0].id
  policy    = data.aws_iam_policy_document.notifications_queue[0].json
}

# The fan-out topic: the bucket notifies it, the queue (and anything else) subscribes.
resource "aws_sns_topic" "s3_fanout" {
  # S3 cannot publish to a topic encrypted with the AWS managed SNS key: encryption needs a
  # customer managed key whose policy admits s3.amazonaws.com (sns_kms_master_key_id). The
  # topic carries object keys, not log contents.
  count             = local.create_sns_topic ? 1 : 0
  name              = coalesce(var.s3_sns_topic_name, "${var.function_name}-s3-notifications")
  kms_master_key_id = var.sns_kms_master_key_id
  tags              = var.tags
}

data "aws_iam_policy_document" "s3_fanout" {
  count = local.create_sns_topic ? 1 : 0

  statement {
    sid       = "CloudTrailBucketPublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.s3_fanout[0].arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.bucket_account_id]
    }
  }
}

resource "aws_sns_topic_policy" "s3_fanout" {
  count  = local.create_sns_topic ? 1 : 0
  arn    = aws_sns_topic.s3_fanout[0].arn
  policy = data.aws_iam_policy_document.s3_fanout[0].json
}

resource "aws_sns_topic_subscription" "queue" {
  count     = local.use_sns_topic ? 1 : 0
  topic_arn = local.sns_topic_arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.notifications[0].arn
  # The queue then holds the S3 notification itself; the handler reads either form.
  raw_message_delivery = true
}

# Replaces the bucket's whole notification configuration: see var.manage_s3_bucket_notification.
resource "aws_s3_bucket_notification" "cloudtrail" {
  count  = local.manage_notification ? 1 : 0
  bucket = var.cloudtrail_logs_s3_bucket_name

  dynamic "queue" {
    for_each = local.create_sns_topic ? [] : [1]
    content {
      queue_arn     = aws_sqs_queue.notifications[0].arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = var.s3_notification_filter_prefix
      filter_suffix = ".json.gz"
    }
  }

  dynamic "topic" {
    for_each = local.create_sns_topic ? [1] : []
    content {
      topic_arn     = aws_sns_topic.s3_fanout[0].arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = var.s3_notification_filter_prefix
      filter_suffix = ".json.gz"
    }
  }

  # Other consumers may rely on the bucket's EventBridge events: the flag is part of the
  # configuration this resource replaces.
  eventbridge = var.s3_eventbridge_notifications

  depends_on = [aws_sqs_queue_policy.notifications, aws_sns_topic_policy.s3_fanout]
}

resource "aws_lambda_event_source_mapping" "sqs" {
  count            = local.use_s3 ? 1 : 0
  event_source_arn = aws_sqs_queue.notifications[0].arn
  function_name    = aws_lambda_function.this.arn
  batch_size       = var.sqs_batch_size
  # The handler answers with batchItemFailures: only the failed files are retried.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.sqs_maximum_concurrency
  }

  depends_on = [aws_iam_role_policy.lambda]
}
