"""Bench — the benchmark suite: synthetic CloudTrail logs, baselines, and ctrules measurements.

Run ``python -m bench`` (see bench/README.md). Nothing here is imported by ctrules.
"""
