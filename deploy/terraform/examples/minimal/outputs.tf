output "function_name" {
  description = "Invoke it with a test event (docs/deploy.md, step 5)."
  value       = module.ctrules.function_name
}

output "log_group_name" {
  description = "Where the function logs; `aws logs tail` it."
  value       = module.ctrules.log_group_name
}

output "dlq_url" {
  description = "Dead-letter queue: empty when all is well."
  value       = module.ctrules.dlq_url
}
