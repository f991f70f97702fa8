output "function_name" {
  description = "The ctrules function."
  value       = module.ctrules.function_name
}

output "eventbridge_rule_arn" {
  description = "The EventBridge rule feeding the function."
  value       = module.ctrules.eventbridge_rule_arn
}

output "dlq_url" {
  description = "Dead-letter queue: empty when all is well."
  value       = module.ctrules.dlq_url
}
