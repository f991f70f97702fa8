output "function_name" {
  description = "Name of the ctrules Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the ctrules Lambda function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's IAM role: grant it s3:GetObject in a cross-account bucket policy and kms:Decrypt in the trail key's policy."
  value       = aws_iam_role.lambda.arn
}

output "log_group_name" {
  description = "The function's CloudWatch log group (JSON logs, metric lines, alerts printed when no Slack destination is set)."
  value       = aws_cloudwatch_log_group.lambda.name
}

output "queue_arn" {
  description = "ARN of the queue of S3 notifications (\"s3\" mode): the target for a bucket notification managed outside this module."
  value       = local.use_s3 ? aws_sqs_queue.notifications[0].arn : null
}

output "queue_url" {
  description = "URL of the queue of S3 notifications (\"s3\" mode)."
  value       = local.use_s3 ? aws_sqs_queue.notifications[0].id : null
}

output "sns_topic_arn" {
  description = "The SNS topic the queue is subscribed to (created by create_s3_sns_topic, or s3_sns_topic_arn): subscribe other consumers of the bucket's notifications here."
  value       = local.use_s3 ? local.sns_topic_arn : null
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue (inspect, then redrive with `aws sqs start-message-move-task`)."
  value       = aws_sqs_queue.dlq.id
}

output "dedup_table_name" {
  description = "Name of the dedup table, if created."
  value       = var.create_dedup_table ? aws_dynamodb_table.dedup[0].name : null
}

output "thread_table_name" {
  description = "Name of the Slack thread table, if created."
  value       = local.create_thread_table ? aws_dynamodb_table.threads[0].name : null
}

output "rules_location" {
  description = "What CTRULES_RULES points at: \"default\", the layer directory, or the S3 URI."
  value       = local.rules_location
}

output "rules_layer_arn" {
  description = "ARN of the layer version carrying the packaged rule set, if one is built."
  value       = local.build_rules_layer ? aws_lambda_layer_version.rules[0].arn : null
}

output "eventbridge_rule_arn" {
  description = "ARN of the EventBridge rule (\"eventbridge\" mode)."
  value       = local.use_eventbridge ? aws_cloudwatch_event_rule.cloudtrail[0].arn : null
}
