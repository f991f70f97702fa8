"""Event sources: where CloudTrail records come from (files, S3, SQS/SNS/EventBridge, Kinesis)."""
