# Least privilege: the function may read the trail's log prefix (and decrypt it through S3), read
# exactly the named Slack secrets, consume its own queue / stream, send to its own dead-letter
# queue, use its own tables, and write its own log group (metrics travel as Embedded Metric Format
# log lines, so no cloudwatch:PutMetricData). Every statement is conditional on the feature.

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.function_name}-lambda"
  description        = "ctrules function ${var.function_name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  statement {
    sid       = "SendToOwnDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  dynamic "statement" {
    for_each = local.use_s3 ? [1] : []
    content {
      sid       = "ReadCloudTrailLogFiles"
      actions   = ["s3:GetObject"]
      resources = ["${local.bucket_arn}/${var.s3_notification_filter_prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = local.use_s3 && var.cloudtrail_logs_kms_key_id != "" ? [1] : []
    content {
      sid       = "DecryptCloudTrailLogFilesThroughS3"
      actions   = ["kms:Decrypt"]
      resources = [data.aws_kms_key.cloudtrail[0].arn]
      condition {
        # The bucket may be in another region than the function.
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["s3.*.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.use_s3 ? [1] : []
    content {
      sid = "ConsumeOwnQueue"
      actions = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
      ]
      resources = [aws_sqs_queue.notifications[0].arn]
    }
  }

  dynamic "statement" {
    for_each = local.use_kinesis ? [1] : []
    content {
      sid = "ConsumeKinesisStream"
      actions = [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
      ]
      resources = [var.kinesis_stream_arn]
    }
  }

  dynamic "statement" {
    for_each = local.use_kinesis && var.kinesis_kms_key_arn != null ? [1] : []
    content {
      sid       = "DecryptKinesisRecords"
      actions   = ["kms:Decrypt"]
      resources = [var.kinesis_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["kinesis.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.ssm_parameter_arns) > 0 ? [1] : []
    content {
      sid       = "ReadSlackSecretParameters"
      actions   = ["ssm:GetParameter"]
      resources = local.ssm_parameter_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.secretsmanager_arns) > 0 ? [1] : []
    content {
      sid       = "ReadSlackSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.secretsmanager_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.secrets_kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "DecryptSlackSecrets"
      actions   = ["kms:Decrypt"]
      resources = var.secrets_kms_key_arns
      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["ssm.*.amazonaws.com", "secretsmanager.*.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.rules_s3_uri != null ? [1] : []
    content {
      sid       = "ReadRuleSet"
      actions   = ["s3:GetObject"]
      resources = ["arn:${local.partition}:s3:::${local.rules_s3_bucket}/${local.rules_s3_key}${local.rules_s3_prefix ? "*" : ""}"]
    }
  }

  dynamic "statement" {
    for_each = local.rules_s3_prefix ? [1] : []
    content {
      sid       = "ListRuleSetPrefix"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${local.partition}:s3:::${local.rules_s3_bucket}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${local.rules_s3_key}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.rules_s3_uri != null && var.rules_s3_kms_key_arn != null ? [1] : []
    content {
      sid       = "DecryptRuleSet"
      actions   = ["kms:Decrypt"]
      resources = [var.rules_s3_kms_key_arn]
      condition {
        test     = "StringLike"
        variable = "kms:ViaService"
        values   = ["s3.*.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.create_dedup_table || local.create_thread_table ? [1] : []
    content {
      sid = "UseOwnTables"
      actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
      ]
      resources = concat(
        var.create_dedup_table ? [aws_dynamodb_table.dedup[0].arn] : [],
        local.create_thread_table ? [aws_dynamodb_table.threads[0].arn] : [],
      )
    }
  }

  dynamic "statement" {
    for_each = var.lambda_tracing_mode == "Active" ? [1] : []
    content {
      sid = "WriteTraces"
      # X-Ray has no resource-level permissions for these two actions.
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "ctrules"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}
