# An organization trail: every account's CloudTrail log files land in one bucket in the
# log-archive account; ctrules runs in the security account and routes alerts per account.
#
# Cross-account pieces, all in the log-archive account (provider aws.log_archive):
#   1. the bucket notification -> the module's queue (the module cannot manage a bucket in
#      another account, hence manage_s3_bucket_notification = false);
#   2. read access for the function's role to the trail's prefix (merge the statement below into
#      the bucket policy: a bucket has exactly one policy document);
#   3. decrypt access on the trail's KMS key, as a grant (no key policy edit needed).
# S3 can notify a queue in another account, but only in the bucket's region: apply this in the
# bucket's region.

provider "aws" {
  alias = "security"
  assume_role {
    role_arn = "arn:aws:iam::${var.security_account_id}:role/terraform"
  }
}

provider "aws" {
  alias = "log_archive"
  assume_role {
    role_arn = "arn:aws:iam::${var.log_archive_account_id}:role/terraform"
  }
}

module "ctrules" {
  source    = "../.."
  providers = { aws = aws.security }

  lambda_zip_path = var.lambda_zip_path

  cloudtrail_logs_s3_bucket_name       = var.cloudtrail_bucket
  cloudtrail_logs_s3_bucket_account_id = var.log_archive_account_id
  cloudtrail_logs_kms_key_id           = var.cloudtrail_kms_key_arn
  s3_notification_filter_prefix        = "AWSLogs/${var.organization_id}/"
  manage_s3_bucket_notification        = false

  # Alerts about events in the listed accounts go to their team's channel; the rest to the default.
  default_slack_hook_url_param_name = "/ctrules/slack/security"
  configuration = [
    {
      name                      = "prod"
      accounts                  = var.prod_account_ids
      slack_hook_url_param_name = "/ctrules/slack/prod"
    },
    {
      name                      = "dev"
      accounts                  = var.dev_account_ids
      slack_hook_url_param_name = "/ctrules/slack/dev"
    },
  ]
  account_names = var.account_names

  # Your organization's own rules, beside the bundled pack.
  rules_dir = "${path.module}/rules"

  alarm_actions = var.alarm_topic_arns

  tags = { Team = "security" }
}

# 1. Bucket notification in the bucket's account, pointing at the queue in the security account.
resource "aws_s3_bucket_notification" "cloudtrail" {
  provider = aws.log_archive
  bucket   = var.cloudtrail_bucket

  queue {
    queue_arn     = module.ctrules.queue_arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "AWSLogs/${var.organization_id}/"
    filter_suffix = ".json.gz"
  }
}

# 2. Merge into the bucket policy of the trail bucket (e.g. via source_policy_documents).
data "aws_iam_policy_document" "ctrules_reads_trail" {
  statement {
    sid       = "CtrulesReadsTrailLogs"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.cloudtrail_bucket}/AWSLogs/${var.organization_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [module.ctrules.role_arn]
    }
  }
}

# 3. Let the function decrypt the log files with the trail's key.
resource "aws_kms_grant" "ctrules" {
  provider          = aws.log_archive
  name              = "ctrules"
  key_id            = var.cloudtrail_kms_key_arn
  grantee_principal = module.ctrules.role_arn
  operations        = ["Decrypt"]
}
