# "eventbridge" delivery mode: CloudTrail's events on this account's default bus, in this region,
# invoke the function within seconds (S3 log files take 5-15 minutes). Deploy the module once per
# region you want covered, or forward other regions' / accounts' events to this bus with
# EventBridge rules of their own (docs/deploy.md). Read-only management events are only sent
# when eventbridge_include_read_only_events is true.

locals {
  default_event_pattern = jsonencode({
    "detail-type" = [
      "AWS API Call via CloudTrail",
      "AWS Console Sign In via CloudTrail",
      "AWS Console Action via CloudTrail",
      "AWS Service Event via CloudTrail",
    ]
  })
}

resource "aws_cloudwatch_event_rule" "cloudtrail" {
  count         = local.use_eventbridge ? 1 : 0
  name          = "${var.function_name}-cloudtrail"
  description   = "CloudTrail events for ctrules (${var.function_name})"
  event_pattern = coalesce(var.eventbridge_event_pattern, local.default_event_pattern)
  state         = var.eventbridge_include_read_only_events ? "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" : "ENABLED"
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "lambda" {
  count = local.use_eventbridge ? 1 : 0
  rule  = aws_cloudwatch_event_rule.cloudtrail[0].name
  arn   = aws_lambda_function.this.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }

  # When EventBridge cannot invoke the function at all (throttled past the retry policy).
  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

resource "aws_lambda_permission" "eventbridge" {
  count         = local.use_eventbridge ? 1 : 0
  statement_id  = "AllowEventBridgeRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.cloudtrail[0].arn
}
