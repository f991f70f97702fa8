variable "cloudtrail_bucket" {
  description = "Name of the S3 bucket your CloudTrail trail writes to."
  type        = string
}

variable "lambda_zip_path" {
  description = "Path of the package built by `make lambda-zip`."
  type        = string
  default     = "../../../../dist/ctrules-lambda.zip"
}
