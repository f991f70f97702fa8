# Inputs of the ctrules module. Names mirror fivexl/terraform-aws-cloudtrail-to-slack where they
# mean the same thing (cloudtrail_logs_s3_bucket_name, configuration, log_level, ...); where the
# meaning changed the name says so (secrets are passed by *name*, never by value: the Lambda
# resolves them at cold start, so they are in neither the function configuration nor the state).
# docs/deploy.md documents every variable with examples; docs/migrating.md maps the old ones.

# --- naming ---------------------------------------------------------------------------------

variable "function_name" {
  description = "Name of the Lambda function; also the prefix of every resource the module creates (queue, DLQ, tables, alarms, role)."
  type        = string
  default     = "ctrules"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,56}$", var.function_name))
    error_message = "function_name: 1-56 letters, digits, '-' or '_' (a suffix such as -dlq is appended to it)."
  }
}

variable "tags" {
  description = "Tags applied to every resource the module creates."
  type        = map(string)
  default     = {}
}

# --- where CloudTrail records come from --------------------------------------------------------

variable "delivery_modes" {
  description = "How records reach the Lambda: \"s3\" (CloudTrail log files announced by an S3 notification, directly or through SNS, into an SQS queue; 5-15 min latency, covers every account and region the trail logs), \"eventbridge\" (the default event bus's \"AWS API Call via CloudTrail\" events of this account and region; seconds of latency), \"kinesis\" (an existing stream fed by a CloudWatch Logs subscription or EventBridge). Several may be combined; with the dedup table an event seen twice alerts once."
  type        = list(string)
  default     = ["s3"]

  validation {
    condition     = length(var.delivery_modes) > 0 && alltrue([for m in var.delivery_modes : contains(["s3", "eventbridge", "kinesis"], m)])
    error_message = "delivery_modes: one or more of \"s3\", \"eventbridge\", \"kinesis\"."
  }
}

variable "cloudtrail_logs_s3_bucket_name" {
  description = "Name of the S3 bucket CloudTrail writes its log files to (required for the \"s3\" delivery mode)."
  type        = string
  default     = null
}

variable "cloudtrail_logs_s3_bucket_account_id" {
  description = "Account that owns the CloudTrail bucket, when it is not the account this module is applied in (an organization trail's log-archive account). Used in the queue and topic policies that let the bucket publish. Null: the current account."
  type        = string
  default     = null

  validation {
    condition     = var.cloudtrail_logs_s3_bucket_account_id == null || can(regex("^[0-9]{12}$", var.cloudtrail_logs_s3_bucket_account_id))
    error_message = "cloudtrail_logs_s3_bucket_account_id: a 12-digit AWS account id."
  }
}

variable "cloudtrail_logs_kms_key_id" {
  description = "Key id, key ARN or alias of the KMS key the CloudTrail log files are encrypted with (SSE-KMS). The Lambda gets kms:Decrypt on it, through S3 only. Empty: the files are not KMS-encrypted."
  type        = string
  default     = ""
}

variable "s3_notification_filter_prefix" {
  description = "Key prefix of the CloudTrail log files: used as the S3 notification filter and to scope the Lambda's s3:GetObject permission. For an organization trail use \"AWSLogs/o-xxxxxxxxxx/\" (or \"<trail prefix>/AWSLogs/...\")."
  type        = string
  default     = "AWSLogs/"
}

variable "manage_s3_bucket_notification" {
  description = "Let the module own the bucket's notification configuration (aws_s3_bucket_notification replaces the whole configuration of a bucket). Set false when the bucket's notifications are managed elsewhere or already have a consumer: then either give s3_sns_topic_arn, or point the existing notification at the outputs queue_arn / sns_topic_arn yourself."
  type        = bool
  default     = true
}

variable "create_s3_sns_topic" {
  description = "Fan-out: the bucket notifies a new SNS topic (output sns_topic_arn) and the module's queue subscribes to it, so other consumers can subscribe to the same topic. False: the bucket notifies the queue directly."
  type        = bool
  default     = false
}

variable "s3_sns_topic_arn" {
  description = "An existing SNS topic that already receives the bucket's ObjectCreated notifications (the bucket has another consumer). The module subscribes its queue to it and does not touch the bucket notification."
  type        = string
  default     = null
}

variable "sns_kms_master_key_id" {
  description = "KMS key for the fan-out topic created by create_s3_sns_topic. Must be a customer managed key whose policy lets s3.amazonaws.com use it (S3 cannot publish to a topic encrypted with the AWS managed key). Null: the topic is not encrypted at rest."
  type        = string
  default     = null
}

variable "sqs_batch_size" {
  description = "Most S3 notifications (log files) one Lambda invocation takes from the queue. Failed files are retried alone (partial batch responses)."
  type        = number
  default     = 10
}

variable "sqs_maximum_concurrency" {
  description = "Most concurrent Lambda invocations the queue drives (2-1000). Slack allows about one message per second per channel: keep it low."
  type        = number
  default     = 2

  validation {
    condition     = var.sqs_maximum_concurrency >= 2 && var.sqs_maximum_concurrency <= 1000
    error_message = "sqs_maximum_concurrency: between 2 and 1000 (an AWS limit)."
  }
}

variable "sqs_max_receive_count" {
  description = "Deliveries of one S3 notification before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "eventbridge_event_pattern" {
  description = "Event pattern (JSON) of the EventBridge rule for the \"eventbridge\" delivery mode. Null: every event CloudTrail sends to EventBridge (API calls, console sign-ins, service events). Narrow it to cut invocations, e.g. to the eventSources your rules look at."
  type        = string
  default     = null
}

variable "eventbridge_include_read_only_events" {
  description = "Also receive read-only management events (Get*, List*, Describe*) through EventBridge (rule state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS). Read-only calls are far more numerous; S3 delivery always includes them."
  type        = bool
  default     = false
}

variable "kinesis_stream_arn" {
  description = "ARN of the Kinesis data stream for the \"kinesis\" delivery mode (CloudWatch Logs subscription payloads, EventBridge envelopes or raw CloudTrail records; the handler detects which)."
  type        = string
  default     = null
}

variable "kinesis_kms_key_arn" {
  description = "ARN of the KMS key the Kinesis stream is encrypted with, if it uses a customer managed key."
  type        = string
  default     = null
}

variable "kinesis_batch_size" {
  description = "Most Kinesis records per Lambda invocation."
  type        = number
  default     = 100
}

variable "kinesis_parallelization_factor" {
  description = "Concurrent batches per shard (1-10); records with the same partition key stay in order."
  type        = number
  default     = 1

  validation {
    condition     = var.kinesis_parallelization_factor >= 1 && var.kinesis_parallelization_factor <= 10
    error_message = "kinesis_parallelization_factor: between 1 and 10."
  }
}

variable "kinesis_starting_position" {
  description = "Where a new Kinesis event source mapping starts reading: LATEST or TRIM_HORIZON."
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.kinesis_starting_position)
    error_message = "kinesis_starting_position: LATEST or TRIM_HORIZON."
  }
}

# --- rules --------------------------------------------------------------------------------------

variable "use_default_rules" {
  description = "Include the rule pack shipped with ctrules. With neither rules_dir nor configuration the Lambda loads the bundled pack directly; with them, the pack's .ctr files are packaged next to yours (names must not collide)."
  type        = bool
  default     = true
}

variable "rules_dir" {
  description = "Local directory of .ctr files (searched recursively), packaged at plan/apply time into a Lambda layer; a change to any file deploys a new layer version. Run `ctrules check` and `ctrules test` on it in CI first. Null: no custom rules."
  type        = string
  default     = null
}

variable "rules_s3_uri" {
  description = "Load the rule set from S3 at cold start instead: s3://bucket/key.ctr (one file) or s3://bucket/prefix/ (every .ctr under it). The Lambda gets read access to exactly that object or prefix. Excludes rules_dir, configuration and use_default_rules."
  type        = string
  default     = null

  validation {
    condition     = var.rules_s3_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", var.rules_s3_uri))
    error_message = "rules_s3_uri: s3://bucket/key.ctr or s3://bucket/prefix/."
  }
}

variable "rules_s3_kms_key_arn" {
  description = "ARN of the KMS key the rules_s3_uri object(s) are encrypted with, if SSE-KMS."
  type        = string
  default     = null
}

variable "site_rules_file" {
  description = "Local path of your site knowledge file: a .ctr declaring the macros org_account, automation_principal and trusted_network that the bundled pack refers to (docs/default-rules.md, \"Site knowledge\"). Packaged into the rules layer in place of the pack's rules/site.ctr. Needs use_default_rules. Null: the pack's defaults (no organisation accounts, automation or trusted networks)."
  type        = string
  default     = null

  validation {
    condition     = var.site_rules_file == null || can(regex("\\.ctr$", var.site_rules_file))
    error_message = "site_rules_file: the path of a .ctr file."
  }
}

# --- Slack destinations -------------------------------------------------------------------------
# Every *_param_name takes an SSM parameter name ("/ctrules/slack/hook", SecureString recommended),
# or the full ARN of an SSM parameter or of a Secrets Manager secret.

variable "default_slack_hook_url_param_name" {
  description = "SSM parameter (name or ARN) or Secrets Manager secret ARN holding the incoming-webhook URL of the default destination: alerts that no route takes, and accounts not listed in configuration."
  type        = string
  default     = null
}

variable "default_slack_channel_id" {
  description = "Channel id (C0123ABCD) of the default destination, for bot-token mode (needs slack_bot_token_param_name). Use instead of default_slack_hook_url_param_name."
  type        = string
  default     = null
}

variable "slack_bot_token_param_name" {
  description = "SSM parameter (name or ARN) or Secrets Manager secret ARN holding a Slack bot token (xoxb-...). Required when any destination is a channel id; enables threads across invocations."
  type        = string
  default     = null
}

variable "configuration" {
  description = "Per-account destinations, like the old module's configuration / slack_app_configuration: alerts about events of the listed accounts (recipientAccountId) go to this hook or channel instead of the default. Compiled into `route` declarations packaged with the rules. `name` is the destination name (default account-group-N)."
  type = list(object({
    accounts                  = list(string)
    slack_hook_url_param_name = optional(string)
    slack_channel_id          = optional(string)
    name                      = optional(string)
  }))
  default = null

  validation {
    condition = var.configuration == null ? true : alltrue([
      for c in var.configuration :
      length(c.accounts) > 0 && (c.slack_hook_url_param_name == null) != (c.slack_channel_id == null)
    ])
    error_message = "configuration: each entry needs at least one account and exactly one of slack_hook_url_param_name / slack_channel_id."
  }
}

variable "destinations" {
  description = "Named destinations for the `route ... to \"NAME\"` declarations in your rules: NAME => {slack_hook_url_param_name} or {slack_channel_id}. The name \"default\" is reserved for default_slack_hook_url_param_name / default_slack_channel_id."
  type = map(object({
    slack_hook_url_param_name = optional(string)
    slack_channel_id          = optional(string)
  }))
  default = {}

  validation {
    condition = alltrue([
      for name, d in var.destinations :
      name != "default" && (d.slack_hook_url_param_name == null) != (d.slack_channel_id == null)
    ])
    error_message = "destinations: each needs exactly one of slack_hook_url_param_name / slack_channel_id, and \"default\" is set through default_slack_hook_url_param_name or default_slack_channel_id."
  }
}

variable "account_names" {
  description = "AWS account id => display name shown in alerts next to the id."
  type        = map(string)
  default     = {}
}

variable "secrets_kms_key_arns" {
  description = "ARNs of customer managed KMS keys the Slack secrets are encrypted with (SecureString parameters / secrets not using the AWS managed key). The Lambda may decrypt with them through SSM / Secrets Manager only."
  type        = list(string)
  default     = []
}

# --- duplicates and threads -----------------------------------------------------------------------

variable "create_dedup_table" {
  description = "Create the DynamoDB table that makes delivery at-most-once per (rule, eventID) across retries, redeliveries and delivery modes (on-demand billing, items expire by TTL)."
  type        = bool
  default     = true
}

variable "dedup_ttl_seconds" {
  description = "How long a (rule, eventID) claim is kept in the dedup table (at least 60). Default 14 days: longer than SQS's maximum retention."
  type        = number
  default     = 1209600
}

variable "create_state_table" {
  description = "Create the DynamoDB table holding the state of stateful rules (count, distinct, first_seen, sequence) across concurrent invocations (on-demand billing, items expire by TTL). Without it such rules count per container only."
  type        = bool
  default     = true
}

variable "create_thread_table" {
  description = "Create the DynamoDB table that makes later alerts of the same group reply in the first Slack message's thread across invocations (bot-token mode only). Null: create it when slack_bot_token_param_name is set."
  type        = bool
  default     = null
}

# --- the Lambda function ----------------------------------------------------------------------------

variable "lambda_zip_path" {
  description = "Path of a prebuilt deployment package (`make lambda-zip` writes dist/ctrules-lambda.zip). Exactly one of lambda_zip_path, build_lambda_package, lambda_s3_bucket/lambda_s3_key and lambda_image_uri."
  type        = string
  default     = null
}

variable "lambda_image_uri" {
  description = "ECR image URI of the ctrules Lambda container image (Dockerfile.lambda), instead of a zip. A container image cannot take layers: use the bundled rules or rules_s3_uri with it."
  type        = string
  default     = null
}

# --- package sources, message mode, and what the fivexl module did (docs/migrating.md) ------------
# One block so parallel changes elsewhere in this file merge cleanly.

variable "lambda_s3_bucket" {
  description = "Bucket of a prebuilt deployment package in S3 (with lambda_s3_key), instead of lambda_zip_path / build_lambda_package / lambda_image_uri."
  type        = string
  default     = null
}

variable "lambda_s3_key" {
  description = "Key of the prebuilt deployment package in lambda_s3_bucket."
  type        = string
  default     = null
}

variable "lambda_s3_object_version" {
  description = "Object version of lambda_s3_key (a versioned bucket): a new version redeploys the code."
  type        = string
  default     = null
}

variable "build_lambda_package" {
  description = "Build the deployment package during `terraform apply`, like the fivexl module did: scripts/build_lambda_zip.py --pip assembles ctrules from this module's checkout (pinned by the module source's ref) and pip-installs its dependencies as manylinux wheels for lambda_runtime / lambda_architecture into a build directory under .terraform/ctrules (works from any OS; needs python3 with pip and access to the package index). The package is rebuilt when its inputs change."
  type        = bool
  default     = false
}

variable "lambda_package_python" {
  description = "Interpreter that runs the package build (build_lambda_package; any Python >= 3.11 with pip, its version need not match lambda_runtime) and the rules layer build (rules_dir, configuration, site_rules_file; standard library only)."
  type        = string
  default     = "python3"
}

variable "lambda_package_include_boto3" {
  description = "Bundle boto3/botocore in the built package (build_lambda_package) instead of using the Lambda runtime's (about 20 MB more)."
  type        = bool
  default     = false
}

variable "slack_message_mode" {
  description = "\"per_alert\": one Slack message per (rule, event). \"per_event\": one message per event listing every rule that matched (what the fivexl module posted, one per event; the migration default). Sets CTRULES_SLACK_MESSAGE_MODE."
  type        = string
  default     = "per_alert"

  validation {
    condition     = contains(["per_alert", "per_event"], var.slack_message_mode)
    error_message = "slack_message_mode: \"per_alert\" or \"per_event\"."
  }
}

variable "access_denied_metrics" {
  description = "Also write the fivexl module's TotalAccessDeniedEvents / TotalIgnoredAccessDeniedEvents metrics (namespace CloudTrailToSlack/AccessDeniedEvents, every record whose errorCode starts with AccessDenied) so existing dashboards and alarms keep working (its push_access_denied_cloudwatch_metrics). Needs metrics_namespace non-empty."
  type        = bool
  default     = false
}

variable "s3_sns_topic_name" {
  description = "Name of the fan-out topic create_s3_sns_topic creates. Null: \"<function_name>-s3-notifications\". Set it to the old topic's name when a `moved` block hands the fivexl module's fan-out topic over (a different name would replace the topic and drop its other subscribers)."
  type        = string
  default     = null
}

variable "s3_eventbridge_notifications" {
  description = "Also turn on the bucket's Amazon EventBridge notifications (the bucket notification's `eventbridge` flag; fivexl's enable_eventbridge_notificaitons). Only with manage_s3_bucket_notification: the module owns the whole notification configuration, so a flag other consumers rely on must be kept here."
  type        = bool
  default     = false
}

variable "lambda_handler" {
  description = "Handler of the zip package."
  type        = string
  default     = "ctrules.aws.handler.handler"
}

variable "lambda_runtime" {
  description = "Lambda runtime of the zip package; must match the Python version the zip was built for (`make lambda-zip` builds for the interpreter it runs with; `--pip --python 3.12` for another)."
  type        = string
  default     = "python3.11"
}

variable "lambda_architecture" {
  description = "Instruction set of the package: x86_64 or arm64; must match the platform the zip or image was built for (build_lambda_zip.py --arch aarch64 is arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture: x86_64 or arm64."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the function in MB (128-10240). Log files are decoded as a stream, so memory does not grow with file size; more memory also means more CPU."
  type        = number
  default     = 512
}

variable "lambda_timeout_seconds" {
  description = "Function timeout in seconds. Covers reading a batch of log files and posting to Slack at its rate limit; the queue's visibility timeout is set to six times this value."
  type        = number
  default     = 120

  validation {
    condition     = var.lambda_timeout_seconds >= 10 && var.lambda_timeout_seconds <= 900
    error_message = "lambda_timeout_seconds: between 10 and 900."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrent executions of the function: caps parallel Slack posting and guarantees capacity. -1: unreserved (the account's shared pool)."
  type        = number
  default     = -1
}

variable "lambda_kms_key_arn" {
  description = "Customer managed KMS key for the function's environment variables. They hold no secret values (only parameter names), so the AWS managed key is the default."
  type        = string
  default     = null
}

variable "lambda_tracing_mode" {
  description = "X-Ray tracing: PassThrough or Active (Active also grants the X-Ray write permissions)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.lambda_tracing_mode)
    error_message = "lambda_tracing_mode: PassThrough or Active."
  }
}

variable "lambda_logs_retention_in_days" {
  description = "Retention of the function's CloudWatch log group, in days."
  type        = number
  default     = 30
}

variable "logs_kms_key_arn" {
  description = "Customer managed KMS key for the function's log group (its key policy must allow logs.<region>.amazonaws.com). Null: CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "log_level" {
  description = "Log level of the function: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], upper(var.log_level))
    error_message = "log_level: DEBUG, INFO, WARNING or ERROR."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the per-invocation counters (Embedded Metric Format log lines: files, records, matched, ignored, alerts, delivery failures). Empty: no metrics."
  type        = string
  default     = "ctrules"
}

variable "extra_environment_variables" {
  description = "Further CTRULES_* settings for the function (see the configuration table in docs/deploy.md), e.g. {CTRULES_SLACK_MAX_MESSAGES = \"10\"}. Must not repeat a variable the module sets."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment_variables) : can(regex("^CTRULES_[A-Z0-9_]+$", k))])
    error_message = "extra_environment_variables: names must start with CTRULES_."
  }
}

# --- failures and alarms -------------------------------------------------------------------------

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps failed notifications, events and batch descriptions (max 14 days)."
  type        = number
  default     = 1209600
}

variable "create_alarms" {
  description = "Create CloudWatch alarms on function errors, dead-letter queue depth, queue age (s3), iterator age (kinesis) and permanent Slack delivery failures (needs metrics_namespace)."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs (usually SNS topics) notified when an alarm fires and when it recovers."
  type        = list(string)
  default     = []
}

variable "alarm_queue_age_seconds" {
  description = "Alarm when the oldest S3 notification in the queue is older than this (the pipeline is falling behind)."
  type        = number
  default     = 1800
}
