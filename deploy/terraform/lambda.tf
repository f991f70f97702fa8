# The function. Its environment is local.lambda_environment (main.tf): names only, no secret values.

# Created here rather than by Lambda so retention and encryption are set, and the role needs no
# logs:CreateLogGroup.
resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (lambda_logs_retention_in_days, 30 days by default like the module this replaces): these are operational logs; the audit record is the CloudTrail bucket itself.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.lambda_logs_retention_in_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:Runs outside a VPC on purpose: it needs egress to Slack and to AWS APIs only; a VPC would add a NAT gateway and no protection for this workload.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the module cannot assume exists; the package is pinned by source_code_hash / image digest.
  # The environment holds no secret values (only SSM / Secrets Manager names): the AWS managed
  # key encrypts it unless lambda_kms_key_arn names a customer managed one.
  function_name = var.function_name
  description   = "ctrules: CloudTrail rules to Slack"
  role          = aws_iam_role.lambda.arn

  package_type      = local.use_image ? "Image" : "Zip"
  image_uri         = var.lambda_image_uri
  filename          = local.package_file
  source_code_hash  = var.lambda_zip_path == null ? null : filebase64sha256(var.lambda_zip_path)
  s3_bucket         = var.lambda_s3_bucket
  s3_key            = var.lambda_s3_key
  s3_object_version = var.lambda_s3_object_version
  handler           = local.use_image ? null : var.lambda_handler
  runtime           = local.use_image ? null : var.lambda_runtime
  architectures     = [var.lambda_architecture]
  layers            = local.build_rules_layer ? [aws_lambda_layer_version.rules[0].arn] : null

  memory_size                    = var.lambda_memory_size
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  kms_key_arn                    = var.lambda_kms_key_arn

  environment {
    variables = local.lambda_environment
  }

  # Asynchronous invocations (EventBridge) that still fail after Lambda's retries land here.
  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  tracing_config {
    mode = var.lambda_tracing_mode
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.lambda, aws_cloudwatch_log_group.lambda, terraform_data.lambda_package]

  lifecycle {
    precondition {
      condition     = length([for given in local.package_sources : given if given]) == 1
      error_message = "Give exactly one package source: build_lambda_package = true, lambda_zip_path (built by `make lambda-zip`), lambda_s3_bucket + lambda_s3_key, or lambda_image_uri."
    }
    precondition {
      condition     = (var.lambda_s3_bucket == null) == (var.lambda_s3_key == null)
      error_message = "lambda_s3_bucket and lambda_s3_key go together."
    }
    precondition {
      condition     = !(local.use_image && local.build_rules_layer)
      error_message = "A container image cannot take layers: with lambda_image_uri use the bundled rules or rules_s3_uri (rules_dir and configuration need the zip package)."
    }
    precondition {
      condition     = var.rules_s3_uri == null || (var.rules_dir == null && length(local.configuration) == 0)
      error_message = "rules_s3_uri excludes rules_dir and configuration: put your routes in the rule files you upload."
    }
    precondition {
      condition     = !local.use_s3 || var.cloudtrail_logs_s3_bucket_name != null
      error_message = "delivery_modes contains \"s3\": set cloudtrail_logs_s3_bucket_name."
    }
    precondition {
      condition     = !local.use_kinesis || var.kinesis_stream_arn != null
      error_message = "delivery_modes contains \"kinesis\": set kinesis_stream_arn."
    }
    precondition {
      condition     = var.rules_dir == null || length(local.custom_rule_files) > 0
      error_message = "rules_dir contains no .ctr file."
    }
    precondition {
      condition     = var.use_default_rules || var.rules_dir != null || var.rules_s3_uri != null
      error_message = "use_default_rules = false leaves no rules: give rules_dir or rules_s3_uri."
    }
    precondition {
      condition     = var.site_rules_file == null || (var.use_default_rules && var.rules_s3_uri == null)
      error_message = "site_rules_file replaces the bundled pack's site.ctr: it needs use_default_rules = true and no rules_s3_uri."
    }
    precondition {
      condition     = !local.build_rules_layer || !var.use_default_rules || length(local.default_pack_files) > 0
      error_message = "use_default_rules: the bundled pack was not found at ${local.default_pack_dir}; source the module from a ctrules checkout or git URL (it needs the repository's rules/ directory), or set use_default_rules = false."
    }
    precondition {
      condition     = !local.uses_channels || var.slack_bot_token_param_name != null
      error_message = "A destination given as a Slack channel id needs slack_bot_token_param_name."
    }
    precondition {
      condition     = !(var.default_slack_hook_url_param_name != null && var.default_slack_channel_id != null)
      error_message = "Set one of default_slack_hook_url_param_name and default_slack_channel_id, not both."
    }
    precondition {
      condition     = !local.create_thread_table || var.slack_bot_token_param_name != null
      error_message = "create_thread_table needs slack_bot_token_param_name (threads are a bot-token feature)."
    }
    precondition {
      condition     = length(local.destination_values) == 0 || var.default_slack_hook_url_param_name != null || var.default_slack_channel_id != null
      error_message = "Named destinations / configuration need a default destination too: set default_slack_hook_url_param_name or default_slack_channel_id."
    }
    precondition {
      condition     = length(setintersection(keys(var.extra_environment_variables), keys({ for k, v in local.module_environment : k => v if v != null }))) == 0
      error_message = "extra_environment_variables repeats a variable the module sets from its inputs."
    }
  }
}

# EventBridge invokes asynchronously: retry twice, then the DLQ (dead_letter_config above).
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600
}
