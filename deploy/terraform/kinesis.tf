# "kinesis" delivery mode: an existing stream (a CloudWatch Logs subscription of the trail's log
# group, or an EventBridge rule targeting the stream) drives the function through an event source
# mapping. A failing batch is split in two until the poison record is alone (bisect), the handler
# reports the failed sequence number (partial batch responses), and a batch that still fails is
# described in the dead-letter queue so the shard moves on. Past one consumer, this mapping (not
# more `ctrules consume kinesis` workers) is the scaling path: raise kinesis_parallelization_factor.

resource "aws_lambda_event_source_mapping" "kinesis" {
  count                              = local.use_kinesis ? 1 : 0
  event_source_arn                   = var.kinesis_stream_arn
  function_name                      = aws_lambda_function.this.arn
  starting_position                  = var.kinesis_starting_position
  batch_size                         = var.kinesis_batch_size
  maximum_batching_window_in_seconds = 1
  parallelization_factor             = var.kinesis_parallelization_factor
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = 5
  function_response_types            = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dlq.arn
    }
  }

  depends_on = [aws_iam_role_policy.lambda]
}
