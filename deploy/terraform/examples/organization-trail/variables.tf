variable "security_account_id" {
  description = "Account ctrules runs in."
  type        = string
}

variable "log_archive_account_id" {
  description = "Account that owns the organization trail's bucket and key."
  type        = string
}

variable "organization_id" {
  description = "AWS Organizations id (o-xxxxxxxxxx): the trail writes under AWSLogs/<id>/."
  type        = string
}

variable "cloudtrail_bucket" {
  description = "The organization trail's bucket."
  type        = string
}

variable "cloudtrail_kms_key_arn" {
  description = "ARN of the KMS key the organization trail encrypts its log files with."
  type        = string
}

variable "prod_account_ids" {
  description = "Accounts whose alerts go to the prod channel."
  type        = list(string)
  default     = []
}

variable "dev_account_ids" {
  description = "Accounts whose alerts go to the dev channel."
  type        = list(string)
  default     = []
}

variable "account_names" {
  description = "Account id => name shown in alerts."
  type        = map(string)
  default     = {}
}

variable "lambda_zip_path" {
  description = "Path of the package built by `make lambda-zip`."
  type        = string
  default     = "../../../../dist/ctrules-lambda.zip"
}

variable "alarm_topic_arns" {
  description = "SNS topics (in the security account) told when ctrules itself is unhealthy."
  type        = list(string)
  default     = []
}
