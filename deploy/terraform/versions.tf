terraform {
  # 1.5: optional() object attributes with defaults, and lifecycle preconditions.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.27: aws_cloudwatch_event_rule.state (read-only CloudTrail management events).
      version = ">= 5.27"
    }
  }
}
