# The smallest deployment: the bundled rule pack, one Slack webhook, CloudTrail log files from S3.
#
#   make lambda-zip                      # in the ctrules checkout: writes dist/ctrules-lambda.zip
#   aws ssm put-parameter --type SecureString --name /ctrules/slack/default-hook \
#       --value https://hooks.slack.com/services/T000/B000/XXXX
#   terraform init && terraform apply -var cloudtrail_bucket=my-cloudtrail-bucket
#
# From your own configuration, `source` is the module in a ctrules checkout or a git URL:
#   source = "git::https://<your ctrules remote>//deploy/terraform?ref=<commit>"

provider "aws" {}

module "ctrules" {
  source                            = "../.."
  lambda_zip_path                   = var.lambda_zip_path
  cloudtrail_logs_s3_bucket_name    = var.cloudtrail_bucket
  default_slack_hook_url_param_name = "/ctrules/slack/default-hook"
}
