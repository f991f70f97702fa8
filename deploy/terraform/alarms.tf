# Alarms that say the pipeline itself is unhealthy (not that an alert fired):
#   errors      the function failed (bad rule set at cold start, Slack unreachable, a file that
#               could not be read): look at the function's log group;
#   dlq         something failed for good and waits in the dead-letter queue;
#   queue age   S3 notifications are waiting longer than alarm_queue_age_seconds (falling behind);
#   iterator    the Kinesis consumer lags more than alarm_queue_age_seconds behind the stream;
#   slack       Slack refused alerts for good (PermanentDeliveryFailures metric of the runtime).
# Missing data is "not breaching": an idle trail is not an incident.

resource "aws_cloudwatch_metric_alarm" "errors" {
  count               = var.create_alarms ? 1 : 0
  alarm_name          = "${var.function_name}-errors"
  alarm_description   = "ctrules function ${var.function_name} reported errors; see log group ${aws_cloudwatch_log_group.lambda.name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  count               = var.create_alarms ? 1 : 0
  alarm_name          = "${var.function_name}-dlq-not-empty"
  alarm_description   = "Messages in ${aws_sqs_queue.dlq.name}: CloudTrail files, events or batches ctrules gave up on. Inspect, fix the cause, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  count               = var.create_alarms && local.use_s3 ? 1 : 0
  alarm_name          = "${var.function_name}-queue-age"
  alarm_description   = "The oldest CloudTrail file notification in ${aws_sqs_queue.notifications[0].name} waits longer than ${var.alarm_queue_age_seconds}s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.notifications[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.alarm_queue_age_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  count               = var.create_alarms && local.use_kinesis ? 1 : 0
  alarm_name          = "${var.function_name}-iterator-age"
  alarm_description   = "ctrules function ${var.function_name} lags more than ${var.alarm_queue_age_seconds}s behind its Kinesis stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.alarm_queue_age_seconds * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

# A permanent Slack failure (revoked webhook, archived channel, bad token) is not retried, so it
# does not fail the invocation: the runtime counts it in its metric lines instead. Metrics are
# per namespace, so give each deployment its own metrics_namespace if several share an account.
resource "aws_cloudwatch_metric_alarm" "permanent_delivery_failures" {
  count               = var.create_alarms && var.metrics_namespace != "" ? 1 : 0
  alarm_name          = "${var.function_name}-slack-permanent-failures"
  alarm_description   = "Slack refused alerts of ${var.function_name} for good (revoked webhook, archived channel, bad token): the log group names the rule, event id and destination."
  namespace           = var.metrics_namespace
  metric_name         = "PermanentDeliveryFailures"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
