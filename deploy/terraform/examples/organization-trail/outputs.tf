output "bucket_policy_statement" {
  description = "Merge this statement into the trail bucket's policy."
  value       = data.aws_iam_policy_document.ctrules_reads_trail.json
}

output "function_name" {
  description = "The ctrules function."
  value       = module.ctrules.function_name
}

output "dlq_url" {
  description = "Dead-letter queue: empty when all is well."
  value       = module.ctrules.dlq_url
}
