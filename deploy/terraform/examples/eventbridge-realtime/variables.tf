variable "cloudtrail_bucket" {
  description = "Name of the S3 bucket your CloudTrail trail writes to."
  type        = string
}

variable "security_channel_id" {
  description = "Slack channel id (C0123ABCD) for every alert; invite the bot to it."
  type        = string
}

variable "oncall_channel_id" {
  description = "Slack channel id for critical alerts, in addition."
  type        = string
}

variable "lambda_zip_path" {
  description = "Path of the package built by `make lambda-zip`."
  type        = string
  default     = "../../../../dist/ctrules-lambda.zip"
}
