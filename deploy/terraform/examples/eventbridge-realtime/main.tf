# Alerts within seconds: CloudTrail's events on the default EventBridge bus invoke ctrules
# directly, and the S3 log files are still read as the complete record (they also hold the
# events EventBridge does not carry, and other regions of a multi-region trail). The dedup
# table makes an event seen both ways alert once.
#
# Bot-token mode: destinations are channel ids, and later alerts of the same group reply in the
# first message's thread (the module creates the thread table because a bot token is set).
# EventBridge only carries this account's events in this region: repeat the module per region
# that matters, or forward other regions' events to this bus (docs/deploy.md).

provider "aws" {}

module "ctrules" {
  source = "../.."

  lambda_zip_path = var.lambda_zip_path
  delivery_modes  = ["eventbridge", "s3"]

  cloudtrail_logs_s3_bucket_name = var.cloudtrail_bucket

  # Narrow what EventBridge sends to the services the rules look at (fewer invocations).
  eventbridge_event_pattern = jsonencode({
    "detail-type" = ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"]
    source        = ["aws.iam", "aws.signin", "aws.cloudtrail", "aws.s3", "aws.ec2", "aws.kms", "aws.organizations"]
  })

  slack_bot_token_param_name = "/ctrules/slack/bot-token"
  default_slack_channel_id   = var.security_channel_id
  destinations = {
    # `route ... to ["oncall", "default"]` in rules/routes.ctr sends critical alerts here too.
    oncall = { slack_channel_id = var.oncall_channel_id }
  }

  rules_dir          = "${path.module}/rules"
  create_dedup_table = true

  log_level = "INFO"
}
