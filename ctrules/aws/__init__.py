"""AWS runtime: the Lambda handler, container workers, configuration, dedup and metrics."""
